// Package broker runs the embedded MQTT broker (mochi-mqtt) that ingest
// starts when no external broker is configured, so a single binary serves a
// small site or a laptop.
//
// Device messages under the intake prefix do not go through the broker's
// own acknowledgement: the broker hands each to ingest (Deps.Intake) and
// neither acknowledges nor forwards it. Message.Ack, called by ingest once
// the message is stored, writes the PUBACK (QoS 1) or PUBREC (QoS 2) to the
// device and then forwards the message to any subscribers. For QoS 2 the
// PUBREC is recorded in the client's session like mochi's own, so mochi
// answers the device's PUBREL with PUBCOMP and a resend of the publish
// before PUBREL with PUBREC, without storing or forwarding it again. mochi acknowledges a publish before it
// persists the subscribers' copies, so relaying through a subscription
// would let a crash lose messages a device was told were safe; this way a
// device's unacknowledged messages stay on the device, which resends them
// when it reconnects. Last wills, which mochi publishes itself, reach
// ingest through the OnWillSent hook.
//
// Sessions, subscriptions and retained messages of other clients are kept
// in a pebble store under DataDir.
package broker

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/ioc-vn/ioc/internal/access"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage/pebble"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures the embedded broker.
type Config struct {
	// Listen is the TCP address devices connect to.
	Listen string `yaml:"listen"`
	// DataDir holds other clients' persistent sessions and retained
	// messages; empty keeps them in memory only. ingest sets it from its
	// own data_dir.
	DataDir string `yaml:"-"`
	// MaxPacketBytes bounds one MQTT packet.
	MaxPacketBytes uint32 `yaml:"max_packet_bytes"`
	// AllowAnonymous lets clients connect without credentials and use any
	// topic: for a demo on a laptop only.
	AllowAnonymous bool `yaml:"allow_anonymous"`
	// TLSListen, if set, adds an MQTT-over-TLS listener (usually :8883)
	// with the PEM certificate and key in TLSCert and TLSKey.
	TLSListen string `yaml:"tls_listen"`
	TLSCert   string `yaml:"tls_cert"`
	TLSKey    string `yaml:"tls_key"`
	// TLSClientCA, if set, makes the TLS listener require a client
	// certificate signed by this PEM CA, in addition to the account's
	// credentials.
	TLSClientCA string `yaml:"tls_client_ca"`
	// ConnectTimeout closes a socket that has not sent CONNECT (TLS
	// handshake included) within it; 0 means DefaultConnectTimeout.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// MaxPendingPerAddress bounds sockets from one remote address that
	// have not sent CONNECT yet; past it new ones are closed at once and
	// counted (ioc_broker_refused_total{reason="pending_per_address"}).
	// 0 means DefaultMaxPendingPerAddress.
	MaxPendingPerAddress int `yaml:"max_pending_per_address"`
	// ClientQueue is each client's outbound queue, in messages; a message
	// for a client whose queue is full is dropped and counted. The largest
	// burst is an IOC server's resync: one retained message per device,
	// active alert and maintenance window. 0 lets ingest size it from the
	// device count (at least DefaultClientQueue).
	ClientQueue int `yaml:"client_queue"`
}

// tlsConfig builds the TLS listener's configuration.
func (c Config) tlsConfig() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("broker: TLS certificate %s / key %s: %w", c.TLSCert, c.TLSKey, err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.TLSClientCA != "" {
		pem, err := os.ReadFile(c.TLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("broker: TLS client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("broker: TLS client CA %s holds no PEM certificate", c.TLSClientCA)
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// Broker is a running embedded broker.
type Broker struct {
	s       *mqtt.Server
	dropped prometheus.Counter
	refused *prometheus.CounterVec
	guard   *connGuard
	subs    int // inline subscription ids given out
	policy  atomic.Pointer[access.Policy]
	retain  *retainHook
	intake  *intakeHook
	store   *pebble.Hook // nil without DataDir
}

// PendingConnections is the number of sockets that have not sent CONNECT.
func (b *Broker) PendingConnections() int { return b.guard.Pending() }

// Deps are the broker's collaborators.
type Deps struct {
	Log     *slog.Logger
	Metrics prometheus.Registerer
	// IntakePrefix selects the topics handed to Intake (contract.DevicePrefix).
	IntakePrefix string
	// Intake receives device messages under IntakePrefix. It may block,
	// which stops reading from that device's connection (backpressure).
	Intake func(*Message)
	// Access decides who connects and what they may publish and subscribe
	// to; nil allows anonymous clients everything (Config.AllowAnonymous).
	Access *access.Policy
	// Guesses paces password attempts (shared with HTTP ingest, so one
	// guesser is held on both); nil makes one with the defaults.
	Guesses *access.Limiter
	// Retained bounds the retained messages kept (see RetainLimitsFor);
	// zero values mean RetainLimitsFor(0, 0).
	Retained RetainLimits
}

// New configures a broker; Start begins listening.
func New(c Config, d Deps) (*Broker, error) {
	if c.Listen == "" {
		return nil, errors.New("broker: listen address is empty")
	}
	if d.Intake == nil || d.IntakePrefix == "" {
		return nil, errors.New("broker: Intake and IntakePrefix are required")
	}
	if d.Access == nil && !c.AllowAnonymous {
		return nil, errors.New("broker: no access policy: set credentials, or embedded_broker.allow_anonymous for a demo")
	}
	reg := d.Metrics
	caps := mqtt.NewDefaultServerCapabilities()
	// mochi drops QoS 1 messages for a subscriber whose outbound queue or
	// in-flight store is full. ingest takes device messages in-process (the
	// intake hook and the inline client), not through a queue; the largest
	// burst to a socket is an IOC server's resync of retained messages,
	// which ClientQueue is sized for. The queue is a channel allocated for
	// every accepted socket, before CONNECT, so it is not the packet-id
	// maximum; the in-flight store (a map filled only as used) keeps the
	// packet-id maximum. Drops are counted (ioc_broker_messages_dropped_total).
	caps.MaximumInflight = math.MaxUint16
	caps.MaximumClientWritesPending = int32(max(c.ClientQueue, DefaultClientQueue))
	caps.ReceiveMaximum = math.MaxUint16
	caps.MaximumPacketSize = c.MaxPacketBytes
	if caps.MaximumPacketSize == 0 {
		caps.MaximumPacketSize = 1 << 20
	}
	// QoS 2 is served as MQTT defines it: mochi's own flow outside the
	// intake prefix, Message.Ack's PUBREC (once stored) inside it.
	caps.MaximumQos = 2
	// Anyone who opens a socket can make mochi log: its lines go through
	// a handler that drops packet contents and rate-limits warnings.
	logSuppressed := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ioc_broker_log_lines_suppressed_total",
		Help: "Broker warnings not written because one client, or all together, logged too many.",
	})
	log := newLimitedLogger(d.Log, logSuppressed)
	s := mqtt.New(&mqtt.Options{
		Capabilities: caps,
		Logger:       log.With("component", "broker"),
		// $SYS topics are refreshed on this interval; they are cheap.
		SysTopicResendInterval: 10,
		// The inline client forwards acknowledged device messages and
		// publishes ingest's rejection reports.
		InlineClient: true,
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
	b.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ioc_broker_refused_total",
		Help: "Connections and operations the embedded broker refused, by reason: credentials, rate_limited, client_id, client_id_in_use, will, publish, subscribe, retained, pending_per_address, connect_timeout.",
	}, []string{"reason"})
	if reg != nil {
		reg.MustRegister(b.refused, logSuppressed)
	}
	guard := newConnGuard(cmp.Or(c.ConnectTimeout, DefaultConnectTimeout), cmp.Or(c.MaxPendingPerAddress, DefaultMaxPendingPerAddress), b.refused)
	b.guard = guard
	if reg != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ioc_broker_pending_connections",
			Help: "Sockets that have not sent CONNECT yet.",
		}, func() float64 { return float64(guard.Pending()) }))
	}
	guesses := d.Guesses
	if guesses == nil {
		guesses = access.NewLimiter(access.LimiterOptions{}, nil, reg)
	}
	b.policy.Store(d.Access)
	if err := s.AddHook(&connectHook{guard: guard, server: s, policy: &b.policy, limiter: guesses, refused: b.refused, log: log}, nil); err != nil {
		return nil, fmt.Errorf("broker: connect hook: %w", err)
	}
	session := newSessionHook(&b.policy, d.IntakePrefix, b.refused, log)
	session.srv = s
	denied := &deniedTopics{}
	if err := s.AddHook(&authHook{policy: &b.policy, session: session, refused: b.refused, log: log, denied: denied}, nil); err != nil {
		return nil, fmt.Errorf("broker: auth hook: %w", err)
	}
	if err := s.AddHook(session, nil); err != nil {
		return nil, fmt.Errorf("broker: session hook: %w", err)
	}
	b.retain = newRetainHook(d.IntakePrefix, d.Retained, b.refused, log)
	if err := s.AddHook(b.retain, nil); err != nil {
		return nil, fmt.Errorf("broker: retain hook: %w", err)
	}
	if err := s.AddHook(&connackHook{maxPacket: caps.MaximumPacketSize, denied: denied}, nil); err != nil {
		return nil, fmt.Errorf("broker: connack hook: %w", err)
	}
	if err := s.AddHook(&dropHook{b: b, log: log}, nil); err != nil {
		return nil, fmt.Errorf("broker: drop hook: %w", err)
	}
	b.intake = &intakeHook{b: b, prefix: d.IntakePrefix, intake: d.Intake, pending: map[pendingKey]struct{}{}}
	if err := s.AddHook(b.intake, nil); err != nil {
		return nil, fmt.Errorf("broker: intake hook: %w", err)
	}
	if c.DataDir != "" {
		b.store = new(pebble.Hook)
		err := s.AddHook(b.store, &pebble.Options{Path: filepath.Join(c.DataDir, "broker"), Mode: pebble.NoSync, Options: privatePebble()})
		if err != nil {
			return nil, fmt.Errorf("broker: persistence in %s: %w", c.DataDir, err)
		}
	}
	// Last: no hook after it may refuse the packet it sets an id aside for.
	if err := s.AddHook(newPacketIDHook(), nil); err != nil {
		return nil, fmt.Errorf("broker: packet id hook: %w", err)
	}
	if err := s.AddListener(newListener("tcp", c.Listen, nil, guard, b.disconnectListener)); err != nil {
		return nil, fmt.Errorf("broker: listen on %s: %w", c.Listen, err)
	}
	if c.TLSListen != "" {
		tc, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		if err := s.AddListener(newListener("tls", c.TLSListen, tc, guard, b.disconnectListener)); err != nil {
			return nil, fmt.Errorf("broker: TLS listen on %s: %w", c.TLSListen, err)
		}
	}
	return b, nil
}

// Start serves clients in the background.
func (b *Broker) Start() error {
	if err := b.s.Serve(); err != nil {
		return err
	}
	b.retain.load(b.s.Topics.Retained.GetAll())
	return nil
}

// SetAccess swaps in reloaded credentials (a nil p is ignored): new
// connections, publishes, subscriptions and last wills are checked
// against them.
func (b *Broker) SetAccess(p *access.Policy) {
	if p != nil && b.policy.Load() != nil {
		b.policy.Store(p)
	}
}

// Close disconnects clients and stops listening.
func (b *Broker) Close() error { return b.s.Close() }

// disconnectListener tells each client attached through the listener id
// that the server is shutting down and ends its connection.
func (b *Broker) disconnectListener(id string) {
	for _, cl := range b.s.Clients.GetAll() {
		if cl.Net.Listener == id && !cl.Closed() {
			_ = b.s.DisconnectClient(cl, packets.ErrServerShuttingDown)
		}
	}
}

// Publish sends a message from the server itself (rejection reports).
func (b *Broker) Publish(topic string, qos byte, retain bool, payload []byte) error {
	return b.s.Publish(topic, payload, retain, qos)
}

// Subscribe delivers messages on filter, from clients and the server
// itself, to handle on the broker's goroutines (the inline client; no ACL
// applies to it).
func (b *Broker) Subscribe(filter string, handle func(topic string, payload []byte)) error {
	b.subs++
	return b.s.Subscribe(filter, b.subs, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		handle(pk.TopicName, pk.Payload)
	})
}

// Message is a device message taken in by ingest. It satisfies the
// message interface ingest's pipeline consumes.
type Message struct {
	b         *Broker
	cl        *mqtt.Client // nil for a last will
	pk        packets.Packet
	forwarded bool // a last will, already published by mochi
}

func (m *Message) Topic() string     { return m.pk.TopicName }
func (m *Message) Payload() []byte   { return m.pk.Payload }
func (m *Message) MessageID() uint16 { return m.pk.PacketID }
func (m *Message) Duplicate() bool   { return m.pk.FixedHeader.Dup }

// Ack acknowledges the message to its device (PUBACK for QoS 1, PUBREC
// for QoS 2) and forwards it to subscribers of its topic. A PUBACK to a
// device that has since disconnected is dropped: the device resends the
// message on reconnecting. A PUBREC goes into the session of the device's
// client id (the connection that resumed it, if the device reconnected
// meanwhile), where mochi completes the exchange when the PUBREL comes.
func (m *Message) Ack() {
	switch {
	case m.cl == nil || m.pk.FixedHeader.Qos == 0:
	case m.pk.FixedHeader.Qos == 1:
		_ = m.cl.WritePacket(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: m.pk.PacketID})
	default:
		m.b.pubrec(m.cl, m.pk.PacketID)
		m.b.intake.done(m.cl.ID, m.pk.PacketID)
	}
	if !m.forwarded {
		// Device messages are never retained: every made-up device id
		// would otherwise cost memory and disk for good (the retain hook
		// clears the flag as well).
		_ = m.b.s.Publish(m.pk.TopicName, m.pk.Payload, false, m.pk.FixedHeader.Qos)
	}
}

// pubrec records a PUBREC for packet id in the session of cl's client id
// and writes it: mochi's processPubrel then finds it and answers the PUBREL
// with PUBCOMP, and its duplicate check answers a resent PUBLISH with
// PUBREC instead of taking it in again (as for its own QoS 2 messages).
// With a DataDir the PUBREC is persisted like mochi's own in-flight
// packets, so a PUBREL after a broker restart still completes.
func (b *Broker) pubrec(cl *mqtt.Client, id uint16) {
	if cur, ok := b.s.Clients.Get(cl.ID); ok && cur != cl && !cur.Properties.Clean {
		cl = cur // the device reconnected and resumed its session
	}
	ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrec}, PacketID: id, Created: time.Now().Unix()}
	if cl.State.Inflight.Set(ack) {
		atomic.AddInt64(&b.s.Info.Inflight, 1)
		if b.store != nil {
			b.store.OnQosPublish(cl, ack, ack.Created, 0)
		}
	}
	cl.State.Inflight.DecreaseReceiveQuota() // given back by processPubrel
	_ = cl.WritePacket(ack)
}

// intakeHook hands device messages to ingest.
type intakeHook struct {
	mqtt.HookBase
	b      *Broker
	prefix string
	intake func(*Message)

	mu sync.Mutex
	// pending holds QoS 2 messages handed to ingest and not yet
	// acknowledged: a resend (DUP) of one is not taken in a second time;
	// the PUBREC for the first answers both.
	pending map[pendingKey]struct{}
}

type pendingKey struct {
	client string
	id     uint16
}

// take reports whether a QoS 2 message goes to ingest: not if it is a
// resend of one ingest still holds.
func (h *intakeHook) take(cl *mqtt.Client, pk packets.Packet) bool {
	if pk.FixedHeader.Qos < 2 {
		return true
	}
	k := pendingKey{cl.ID, pk.PacketID}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.pending[k]; ok && pk.FixedHeader.Dup {
		return false
	}
	h.pending[k] = struct{}{}
	return true
}

func (h *intakeHook) done(client string, id uint16) {
	h.mu.Lock()
	delete(h.pending, pendingKey{client, id})
	h.mu.Unlock()
}

func (h *intakeHook) ID() string { return "ioc-intake" }

func (h *intakeHook) Provides(b byte) bool { return b == mqtt.OnPublish || b == mqtt.OnWillSent }

func (h *intakeHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || !strings.HasPrefix(pk.TopicName, h.prefix) {
		return pk, nil
	}
	pk.FixedHeader.Retain = false
	if h.take(cl, pk) {
		h.intake(&Message{b: h.b, cl: cl, pk: pk})
	}
	return pk, packets.ErrRejectPacket // ingest acknowledges and forwards it
}

func (h *intakeHook) OnWillSent(cl *mqtt.Client, pk packets.Packet) {
	if strings.HasPrefix(pk.TopicName, h.prefix) {
		h.intake(&Message{b: h.b, pk: pk, forwarded: true})
	}
}

// connackHook acts as a CONNACK is sent. It advertises in an MQTT 5
// CONNACK what the broker restricts beyond mochi's own properties: the
// Maximum Packet Size (mochi enforces it but does not say so); Maximum QoS
// is 2, which the absence of the property means. And when a session is
// resumed it puts the session's queued messages in the order they were
// queued (orderInflight) before mochi resends them.
//
// It also gives mochi's MQTT 5 refusal of a publish a reason string a
// person can act on: a PUBACK or PUBREC "not authorised" names the topic.
type connackHook struct {
	mqtt.HookBase
	maxPacket uint32
	denied    *deniedTopics
}

// deniedTopics holds, per client, the topic of its last publish the ACL
// refused, for the reason string of the acknowledgement mochi sends next
// (on the same goroutine: the client's read loop).
type deniedTopics struct{ m sync.Map } // *mqtt.Client -> string

func (d *deniedTopics) set(cl *mqtt.Client, topic string) { d.m.Store(cl, topic) }

func (d *deniedTopics) take(cl *mqtt.Client) string {
	if v, ok := d.m.LoadAndDelete(cl); ok {
		return v.(string)
	}
	return ""
}

func (h *connackHook) ID() string { return "ioc-connack" }

func (h *connackHook) Provides(b byte) bool {
	return b == mqtt.OnPacketEncode || b == mqtt.OnDisconnect
}

// OnDisconnect forgets a client's refused topic.
func (h *connackHook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) { h.denied.take(cl) }

func (h *connackHook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	switch pk.FixedHeader.Type {
	case packets.Puback, packets.Pubrec:
		if pk.ReasonCode == packets.ErrNotAuthorized.Code {
			if topic := h.denied.take(cl); topic != "" {
				pk.Properties.ReasonString = fmt.Sprintf("not authorised: account %q may not publish to %q", cl.Properties.Username, topic)
			}
		}
		return pk
	}
	if pk.FixedHeader.Type != packets.Connack || pk.ReasonCode != 0 {
		return pk
	}
	if cl.Properties.ProtocolVersion == 5 {
		pk.Properties.MaximumPacketSize = h.maxPacket
	}
	if pk.SessionPresent {
		orderInflight(cl.State.Inflight)
	}
	return pk
}

// orderInflight makes mochi resend a resumed session's messages in the
// order they were queued, as MQTT-4.6.0-6 requires. mochi sorts them by
// uint16(Created), the second each was queued, with an unstable sort, so
// messages queued within one second came back in random order (the Go
// paho "offline queueing" conformance scenario saw 2 before 0 and 1).
// Packet ids are handed out in queue order, wrapping at 65535: sorted by
// id and started after the largest gap (where they wrapped), they are the
// queue order, which Created is rewritten to carry. The new values end at
// the oldest original second, so no message expires later than it would
// have, and only seconds earlier.
func orderInflight(in *mqtt.Inflight) {
	pks := in.GetAll(false)
	n := len(pks)
	if n < 2 || n > 1<<16 {
		return
	}
	slices.SortFunc(pks, func(a, b packets.Packet) int { return cmp.Compare(a.PacketID, b.PacketID) })
	start, gap := 0, int(pks[0].PacketID)+1<<16-int(pks[n-1].PacketID)
	oldest := pks[0].Created
	for i := 1; i < n; i++ {
		if d := int(pks[i].PacketID) - int(pks[i-1].PacketID); d > gap {
			start, gap = i, d
		}
		oldest = min(oldest, pks[i].Created)
	}
	top := oldest
	if int(uint16(top)) < n-1 { // the run would wrap in uint16: end it below the wrap
		top -= int64(uint16(top)) + 1
	}
	for k := range n {
		pk := pks[(start+k)%n]
		pk.Created = top - int64(n-1-k)
		in.Set(pk)
	}
}

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

// authHook enforces the access policy: every client authenticates, client
// ids and usernames carry no wildcard or separator, and each publish,
// subscription and delivery is checked against the account's topics.
type authHook struct {
	mqtt.HookBase
	policy  *atomic.Pointer[access.Policy]
	session *sessionHook
	refused *prometheus.CounterVec
	log     *slog.Logger
	denied  *deniedTopics
}

func (h *authHook) ID() string { return "ioc-access" }

func (h *authHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user := string(cl.Properties.Username)
	if !access.ValidName(cl.ID) || (user != "" && !access.ValidName(user)) {
		h.refused.WithLabelValues("client_id").Inc()
		h.log.Warn("broker: refused a client id or username with + # / or spaces", "client", cl.ID, "username", user, "remote", cl.Net.Remote)
		return false
	}
	policy := h.policy.Load()
	if policy == nil {
		return h.session.admit(cl, pk, nil)
	}
	acct, ok := policy.Authenticate(user, pk.Connect.Password)
	if !ok {
		h.refused.WithLabelValues("credentials").Inc()
		h.log.Warn("broker: refused bad credentials", "client", cl.ID, "username", user, "remote", cl.Net.Remote)
		return false
	}
	return h.session.admit(cl, pk, acct)
}

func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	policy := h.policy.Load()
	if policy == nil {
		return true
	}
	a, ok := policy.Account(string(cl.Properties.Username))
	if write {
		if ok && (a.CanPublish(topic) || a.OwnsMalformed(topic)) {
			return true
		}
		h.refused.WithLabelValues("publish").Inc()
		h.log.Warn("broker: refused a publish outside the account's topics", "client", cl.ID, "username", string(cl.Properties.Username), "topic", topic)
		if cl.Properties.ProtocolVersion == 5 {
			h.denied.set(cl, topic)
		}
		return false
	}
	if ok && a.CanSubscribe(topic) {
		return true
	}
	h.refused.WithLabelValues("subscribe").Inc()
	return false
}
