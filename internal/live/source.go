package live

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/mqttsub"
	"github.com/prometheus/client_golang/prometheus"
)

// maxPayload bounds one server-topic message the source will decode.
const maxPayload = 1 << 20

// Source follows the server topics on the broker and keeps a Picture
// current. It also sends operators' commands and waits for their results.
type Source struct {
	pic   *Picture
	log   *slog.Logger
	cfg   mqttsub.Config
	c     paho.Client
	ready atomic.Bool
	m     *sourceMetrics

	mu      sync.Mutex
	marker  string
	waiters map[string]chan contract.CommandResult
	follow  map[string]func(topic string, payload []byte) // topic prefix -> handler
	errs    func(integrator string, payload []byte)       // FollowErrors
}

type sourceMetrics struct {
	messages *prometheus.CounterVec
	syncs    prometheus.Counter
	bad      prometheus.Counter
}

// NewSource builds a source on the broker in cfg (Broker, ClientID,
// credentials of a server account, TLS files). It connects on Run.
func NewSource(cfg mqttsub.Config, pic *Picture, log *slog.Logger, reg prometheus.Registerer) (*Source, error) {
	if cfg.Broker == "" || cfg.ClientID == "" {
		return nil, errors.New("live: broker URL and client id are required")
	}
	s := &Source{pic: pic, log: log, cfg: cfg, waiters: map[string]chan contract.CommandResult{}, follow: map[string]func(string, []byte){}, m: &sourceMetrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_live_messages_total", Help: "Server-topic messages received, by kind."}, []string{"kind"}),
		syncs:    prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_live_syncs_total", Help: "Times the picture was rebuilt from the broker's retained messages."}),
		bad:      prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_live_bad_messages_total", Help: "Server-topic messages that could not be decoded."}),
	}}
	if reg != nil {
		for _, c := range []prometheus.Collector{s.m.messages, s.m.syncs, s.m.bad} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	tc, err := cfg.TLSConfig()
	if err != nil {
		return nil, err
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = 30 * time.Second
	}
	o := paho.NewClientOptions().
		AddBroker(cfg.Broker).
		SetClientID(cfg.ClientID).
		SetUsername(cfg.Username).
		SetPassword(cfg.Password).
		// A clean session: every connect receives the whole retained
		// state again, which is what the picture is rebuilt from.
		SetCleanSession(true).
		SetOrderMatters(true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(5 * time.Second).
		SetKeepAlive(cfg.KeepAlive).
		SetPingTimeout(10 * time.Second).
		SetWriteTimeout(10 * time.Second).
		SetConnectTimeout(10 * time.Second).
		SetOnConnectHandler(func(c paho.Client) { go s.subscribe(c) }).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			s.ready.Store(false)
			s.pic.Lost(time.Now())
			log.Warn("live: broker connection lost; reconnecting", "broker", cfg.Broker, "err", err)
		})
	o.SetCustomOpenConnectionFn(mqttsub.Dialer(tc))
	s.c = paho.NewClient(o)
	return s, nil
}

// Follow hands every message under prefix (a topic prefix ending in "/",
// retained ones included) to h, on the client's delivery goroutine: h must
// not block. Call it before Run.
func (s *Source) Follow(prefix string, h func(topic string, payload []byte)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.follow[prefix] = h
}

// FollowErrors hands every integrator's _errors report (ioc/v1/+/_errors)
// to h with the integrator of its topic, on the client's delivery
// goroutine: h must not block. Call it before Run.
func (s *Source) FollowErrors(h func(integrator string, payload []byte)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = h
}

// Publish sends a message at QoS 1 and waits for the broker to take it.
func (s *Source) Publish(ctx context.Context, topic string, retained bool, payload []byte) error {
	tok := s.c.Publish(topic, 1, retained, payload)
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Ready reports whether the picture reflects the broker: connected, and
// the retained state received since.
func (s *Source) Ready() bool { return s.ready.Load() && s.c.IsConnectionOpen() }

// Run connects and follows the broker until ctx ends.
func (s *Source) Run(ctx context.Context) error {
	tok := s.c.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			s.log.Warn("live: first connect failed; retrying", "err", err)
		}
	case <-ctx.Done():
	}
	<-ctx.Done()
	s.c.Disconnect(250)
	return nil
}

func (s *Source) subscribe(c paho.Client) {
	s.pic.BeginSync()
	var b [8]byte
	_, _ = rand.Read(b[:])
	s.mu.Lock()
	s.marker = hex.EncodeToString(b[:])
	marker := s.marker
	s.mu.Unlock()
	h := func(_ paho.Client, m paho.Message) { s.handle(m.Topic(), m.Payload()) }
	// The sync marker, and the events (the recently resolved list) even
	// where a configuration lists its topics without them.
	filters := map[string]byte{contract.SyncPrefix + s.cfg.ClientID: 1, contract.EventsTopic: 1}
	topics := s.cfg.Topics
	if len(topics) == 0 {
		topics = contract.PictureFilters()
	}
	for _, t := range topics {
		filters[t] = 1
	}
	s.mu.Lock()
	for prefix := range s.follow {
		filters[prefix+"#"] = 1
	}
	if s.errs != nil {
		filters[contract.AllErrorsFilter] = 1
	}
	s.mu.Unlock()
	tok := c.SubscribeMultiple(filters, h)
	if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		s.log.Error("live: subscribe failed; not ready", "err", tok.Error())
		return
	}
	tok = c.Publish(contract.SyncPrefix+s.cfg.ClientID, 1, false, []byte(marker))
	if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		s.log.Error("live: sync marker not sent; not ready", "err", tok.Error())
	}
}

func (s *Source) handle(topic string, payload []byte) {
	if len(payload) > maxPayload {
		s.m.bad.Inc()
		s.log.Warn("live: oversized server message ignored", "topic", topic, "bytes", len(payload))
		return
	}
	gone := len(payload) == 0
	var u Update
	var err error
	switch {
	case strings.HasPrefix(topic, contract.SyncPrefix):
		s.mu.Lock()
		ok := string(payload) == s.marker
		s.mu.Unlock()
		if ok {
			s.pic.EndSync()
			s.m.syncs.Inc()
			s.ready.Store(true)
			s.log.Info("live: picture synced from the broker", "seq", s.pic.Seq())
		}
		return
	case topic == contract.ResultsTopic:
		var r contract.CommandResult
		if err := json.Unmarshal(payload, &r); err != nil {
			s.m.bad.Inc()
			return
		}
		s.mu.Lock()
		ch := s.waiters[r.ID]
		delete(s.waiters, r.ID)
		s.mu.Unlock()
		if ch != nil {
			ch <- r
		}
		s.m.messages.WithLabelValues("result").Inc()
		return
	case topic == contract.EventsTopic:
		s.event(payload)
		return
	case strings.HasPrefix(topic, contract.AlertsPrefix):
		u.AlertID = strings.TrimPrefix(topic, contract.AlertsPrefix)
		u.Gone = gone
		if !gone {
			u.Alert = new(alert.Alert)
			err = json.Unmarshal(payload, u.Alert)
		}
		s.m.messages.WithLabelValues("alert").Inc()
	case strings.HasPrefix(topic, contract.DevicesPrefix):
		u.DeviceID = strings.TrimPrefix(topic, contract.DevicesPrefix)
		u.Gone = gone
		if !gone {
			u.Device = new(contract.DeviceState)
			err = json.Unmarshal(payload, u.Device)
		}
		s.m.messages.WithLabelValues("device").Inc()
	case strings.HasPrefix(topic, contract.MaintenancePrefix):
		u.Target = strings.TrimPrefix(topic, contract.MaintenancePrefix)
		u.Gone = gone
		if !gone {
			u.Maintenance = new(alert.Maintenance)
			err = json.Unmarshal(payload, u.Maintenance)
		}
		s.m.messages.WithLabelValues("maintenance").Inc()
	case contract.IsErrorsTopic(topic):
		integrator, _ := contract.ErrorsIntegrator(topic)
		s.mu.Lock()
		h := s.errs
		s.mu.Unlock()
		if h != nil && !gone {
			h(integrator, payload)
		}
		s.m.messages.WithLabelValues("errors").Inc()
		return
	default:
		s.mu.Lock()
		var h func(string, []byte)
		for prefix, f := range s.follow {
			if strings.HasPrefix(topic, prefix) {
				h = f
			}
		}
		s.mu.Unlock()
		if h != nil {
			h(topic, payload)
		}
		return
	}
	if err != nil {
		s.m.bad.Inc()
		s.log.Warn("live: undecodable server message ignored", "topic", topic, "err", err)
		return
	}
	s.pic.Apply(u)
}

// event takes a resolution from the events topic into the picture's
// recently resolved list (the other transitions reach the picture as
// retained state).
func (s *Source) event(payload []byte) {
	var ev struct {
		Kind  string       `json:"kind"`
		At    time.Time    `json:"at"`
		Alert *alert.Alert `json:"alert"`
		By    string       `json:"by"`
		Note  string       `json:"note"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		s.m.bad.Inc()
		s.log.Warn("live: undecodable event ignored", "err", err)
		return
	}
	s.m.messages.WithLabelValues("event").Inc()
	if ev.Kind != string(alert.Cleared) || ev.Alert == nil {
		return
	}
	by := ev.By
	if by == "" {
		by = ev.Alert.ResolvedBy
	}
	s.pic.Resolved(Resolution{Alert: *ev.Alert, At: ev.At, By: by, Note: ev.Note})
}

// ErrNoResult means the alert service did not answer in time: it may be
// down, or the command may still be applied later.
var ErrNoResult = errors.New("live: no answer from the alert service")

// Command publishes c on the commands topic and waits for its result.
func (s *Source) Command(ctx context.Context, c contract.Command) (contract.CommandResult, error) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	c.ID = hex.EncodeToString(b[:])
	payload, err := json.Marshal(c)
	if err != nil {
		return contract.CommandResult{}, err
	}
	ch := make(chan contract.CommandResult, 1)
	s.mu.Lock()
	s.waiters[c.ID] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.waiters, c.ID)
		s.mu.Unlock()
	}()
	tok := s.c.Publish(contract.CommandsTopic, 1, false, payload)
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return contract.CommandResult{}, fmt.Errorf("live: sending command: %w", err)
		}
	case <-ctx.Done():
		return contract.CommandResult{}, ErrNoResult
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return contract.CommandResult{}, ErrNoResult
	}
}
