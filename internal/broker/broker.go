// Package broker runs the embedded MQTT broker (mochi-mqtt) that ingest
// starts when no external broker is configured, so a single binary serves a
// small site or a laptop. Devices connect to it; ingest subscribes to it
// over TCP like to any other broker.
//
// Sessions, subscriptions, retained and in-flight messages are kept in a
// pebble store under DataDir, so messages the broker acknowledged to a
// device survive a restart of the process and are redelivered to ingest.
package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/hooks/storage/pebble"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures the embedded broker.
type Config struct {
	// Listen is the TCP address devices connect to.
	Listen string `yaml:"listen"`
	// DataDir holds the broker's persistent sessions; empty keeps them in
	// memory only (tests).
	DataDir string `yaml:"data_dir"`
	// MaxPacketBytes bounds one MQTT packet.
	MaxPacketBytes uint32 `yaml:"max_packet_bytes"`
}

// Broker is a running embedded broker.
type Broker struct {
	s       *mqtt.Server
	dropped prometheus.Counter
}

// New configures a broker; Start begins listening.
func New(c Config, log *slog.Logger, reg prometheus.Registerer) (*Broker, error) {
	if c.Listen == "" {
		return nil, errors.New("broker: listen address is empty")
	}
	caps := mqtt.NewDefaultServerCapabilities()
	// mochi drops QoS 1 messages for a subscriber whose outbound queue or
	// in-flight store is full. ingest acknowledges only after storing, so
	// give it the largest in-flight store MQTT packet ids allow and a queue
	// to match; drops are still counted (ioc_broker_messages_dropped_total).
	caps.MaximumInflight = math.MaxUint16
	caps.MaximumClientWritesPending = math.MaxUint16
	caps.ReceiveMaximum = math.MaxUint16
	caps.MaximumPacketSize = c.MaxPacketBytes
	if caps.MaximumPacketSize == 0 {
		caps.MaximumPacketSize = 1 << 20
	}
	s := mqtt.New(&mqtt.Options{
		Capabilities: caps,
		Logger:       log.With("component", "broker"),
		// $SYS topics are refreshed on this interval; they are cheap.
		SysTopicResendInterval: 10,
	})
	b := &Broker{
		s: s,
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_broker_messages_dropped_total",
			Help: "Messages the embedded broker could not queue for a subscriber (its queue was full). Non-zero means data loss for that subscriber.",
		}),
	}
	if reg != nil {
		reg.MustRegister(b.dropped)
	}
	// Anonymous clients are allowed here for now; see docs/ARCHITECTURE.md.
	if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		return nil, fmt.Errorf("broker: auth hook: %w", err)
	}
	if err := s.AddHook(&dropHook{b: b, log: log}, nil); err != nil {
		return nil, fmt.Errorf("broker: drop hook: %w", err)
	}
	if c.DataDir != "" {
		err := s.AddHook(new(pebble.Hook), &pebble.Options{Path: filepath.Join(c.DataDir, "broker"), Mode: pebble.NoSync})
		if err != nil {
			return nil, fmt.Errorf("broker: persistence in %s: %w", c.DataDir, err)
		}
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "tcp", Address: c.Listen})
	if err := s.AddListener(tcp); err != nil {
		return nil, fmt.Errorf("broker: listen on %s: %w", c.Listen, err)
	}
	return b, nil
}

// Start serves clients in the background.
func (b *Broker) Start() error { return b.s.Serve() }

// Close disconnects clients and stops listening.
func (b *Broker) Close() error { return b.s.Close() }

// dropHook counts messages mochi had to drop.
type dropHook struct {
	mqtt.HookBase
	b   *Broker
	log *slog.Logger
}

func (h *dropHook) ID() string { return "ioc-drop-counter" }

func (h *dropHook) Provides(b byte) bool { return b == mqtt.OnPublishDropped }

func (h *dropHook) OnPublishDropped(cl *mqtt.Client, pk packets.Packet) {
	h.b.dropped.Inc()
	h.log.Error("broker: dropped a message for a subscriber whose queue is full", "client", cl.ID, "topic", pk.TopicName)
}
