// Package mqttsub is ingest's MQTT client. It subscribes with QoS 1 on a
// persistent session (clean session off, stable client id) so the broker
// keeps messages while ingest is away, leaves acknowledgement to the
// caller (paho's manual acks), and reconnects and resubscribes on its own.
// It also lends the other paho users its buffered connection (Dialer)
// and TLS setup (Config.TLSConfig). paho is imported here and by the
// other MQTT clients: live.Source (the IOC server's clean-session
// follower) and the device side of the simulator (sim), the load
// generator (loadgen) and cmd/ingestbench.
package mqttsub

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Message is one received message. Ack sends its PUBACK; call it once the
// message's data is safe, in arrival order.
type Message interface {
	Topic() string
	Payload() []byte
	MessageID() uint16
	Duplicate() bool
	Ack()
}

// retained marks a paho message delivered with the RETAIN flag: a replay
// of the broker's retained store (ingest.Replay), not news.
type retained struct{ paho.Message }

// RetainedReplay reports that the message is a retained replay.
func (retained) RetainedReplay() bool { return true }

// Config is the broker connection.
type Config struct {
	// Broker is the URL: tcp://host:1883 or ssl://host:8883.
	Broker   string `yaml:"broker"`
	ClientID string `yaml:"client_id"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// Topics are the subscription filters.
	Topics []string `yaml:"topics"`
	// SharedGroup, when set, subscribes as $share/<group>/<topic> so that
	// several ingest processes split the messages between them.
	SharedGroup string        `yaml:"shared_group"`
	KeepAlive   time.Duration `yaml:"keepalive"`
	// For ssl:// brokers: CAFile is the PEM CA to trust (empty: the system's),
	// CertFile and KeyFile a client certificate if the broker wants one.
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
	// Will, if set, is published by the broker when the connection ends
	// without a DISCONNECT (the process killed, the network cut).
	Will *Will `yaml:"-"`
}

// Will is a last will: QoS 1, retained or not.
type Will struct {
	Topic   string
	Payload []byte
	Retain  bool
}

// TLSConfig builds the client's TLS configuration from the files.
func (c Config) TLSConfig() (*tls.Config, error) {
	tc := &tls.Config{InsecureSkipVerify: c.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt.ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mqtt.ca_file %s holds no PEM certificate", c.CAFile)
		}
	}
	if c.CertFile != "" || c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt.cert_file/key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Filters returns the subscription filters, with the shared prefix if any.
func (c Config) Filters() []string {
	out := make([]string, len(c.Topics))
	for i, t := range c.Topics {
		if c.SharedGroup != "" {
			t = "$share/" + c.SharedGroup + "/" + t
		}
		out[i] = t
	}
	return out
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.Broker == "" {
		return errors.New("mqtt.broker is empty")
	}
	if u, err := url.Parse(c.Broker); err != nil || u.Host == "" {
		return fmt.Errorf("mqtt.broker %q is not a URL like tcp://host:1883", c.Broker)
	} else if s := u.Scheme; s != "tcp" && s != "mqtt" && s != "ssl" && s != "tls" && s != "mqtts" {
		return fmt.Errorf("mqtt.broker %q: use tcp:// or ssl://", c.Broker)
	}
	if c.ClientID == "" {
		return errors.New("mqtt.client_id is empty: a persistent session needs a stable client id")
	}
	if strings.ContainsAny(c.ClientID, "+#/") {
		return fmt.Errorf("mqtt.client_id %q: + # / are not allowed", c.ClientID)
	}
	if strings.ContainsAny(c.SharedGroup, "+#/") {
		return fmt.Errorf("mqtt.shared_group %q: + # / are not allowed", c.SharedGroup)
	}
	if len(c.Topics) == 0 {
		return errors.New("mqtt.topics is empty")
	}
	if _, err := c.TLSConfig(); err != nil {
		return err
	}
	return nil
}

// Client is a subscribed MQTT connection.
type Client struct {
	c          paho.Client
	subscribed atomic.Bool   // connected and the broker answered SUBACK
	ready      chan struct{} // closed at the first SUBACK
	readyOnce  sync.Once
	extra      []extraSub  // set before Connect
	optional   []*Optional // set before Connect
	onConnect  []func()    // set before Connect
	onLost     []func()    // set before Connect
}

// Optional is a QoS 1 subscription made only while enabled. While
// disabled, each connect removes it from the broker's session, and what
// the session still delivered for it goes to the off handler.
type Optional struct {
	cl      *Client
	filter  string
	on, off func(topic string, payload []byte)
	mu      sync.Mutex
	enabled bool
}

type extraSub struct {
	filter string
	handle func(topic string, payload []byte)
}

// Subscribe adds a QoS 1 subscription, made on every connect alongside the
// configured topics, whose messages go to handle (on paho's routing
// goroutine, in order) and are acknowledged when it returns. Call it
// before Connect.
func (cl *Client) Subscribe(filter string, handle func(topic string, payload []byte)) {
	cl.extra = append(cl.extra, extraSub{filter, handle})
}

// OnConnect adds f, called after each (re)connect and subscribe, e.g. to
// publish again what the broker may have missed. Call it before Connect.
func (cl *Client) OnConnect(f func()) { cl.onConnect = append(cl.onConnect, f) }

// OnConnectionLost adds f, called when the connection is lost. Call it
// before Connect.
func (cl *Client) OnConnectionLost(f func()) { cl.onLost = append(cl.onLost, f) }

// Optional adds a subscription that starts disabled: messages go to on
// while it is enabled and to off otherwise (in order, on paho's routing
// goroutine; each acknowledged when its handler returns). Call it before
// Connect.
func (cl *Client) Optional(filter string, on, off func(topic string, payload []byte)) *Optional {
	o := &Optional{cl: cl, filter: filter, on: on, off: off}
	cl.optional = append(cl.optional, o)
	cl.c.AddRoute(filter, o.route)
	return o
}

func (o *Optional) route(_ paho.Client, m paho.Message) {
	o.mu.Lock()
	h := o.off
	if o.enabled {
		h = o.on
	}
	o.mu.Unlock()
	h(m.Topic(), m.Payload())
	m.Ack()
}

// Enable subscribes now (if connected) and on every connect.
func (o *Optional) Enable(ctx context.Context) error {
	o.mu.Lock()
	o.enabled = true
	o.mu.Unlock()
	if !o.cl.c.IsConnectionOpen() {
		return nil // the next connect subscribes
	}
	return wait(ctx, o.cl.c.Subscribe(o.filter, 1, o.route))
}

// Disable unsubscribes now (if connected) and on every connect.
func (o *Optional) Disable(ctx context.Context) error {
	o.mu.Lock()
	o.enabled = false
	o.mu.Unlock()
	if !o.cl.c.IsConnectionOpen() {
		return nil
	}
	// paho drops the route; what still arrives reaches route through the
	// default handler.
	return wait(ctx, o.cl.c.Unsubscribe(o.filter))
}

// matches reports whether topic matches the MQTT filter (+ and #).
func matches(filter, topic string) bool {
	for {
		f, frest, fmore := strings.Cut(filter, "/")
		t, trest, tmore := strings.Cut(topic, "/")
		switch {
		case f == "#":
			return true
		case f != "+" && f != t:
			return false
		case !fmore || !tmore:
			return fmore == tmore
		}
		filter, topic = frest, trest
	}
}

// sync makes the broker's session match: subscribed if enabled, not if not.
func (o *Optional) sync(c paho.Client) error {
	o.mu.Lock()
	enabled := o.enabled
	o.mu.Unlock()
	var tok paho.Token
	if enabled {
		tok = c.Subscribe(o.filter, 1, o.route)
	} else {
		tok = c.Unsubscribe(o.filter)
	}
	if !tok.WaitTimeout(30 * time.Second) {
		return errors.New("timed out")
	}
	return tok.Error()
}

// New builds a client; handle is called for each message on paho's routing
// goroutine, in arrival order. It must not block for long: hand the message
// on and return (blocking there stops reading from the broker, which is the
// backpressure ingest wants when its window is full).
func New(cfg Config, log *slog.Logger, handle func(Message)) *Client {
	cl := &Client{ready: make(chan struct{})}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = 30 * time.Second
	}
	h := func(c paho.Client, m paho.Message) {
		for _, o := range cl.optional { // unsubscribed: paho dropped its route
			if matches(o.filter, m.Topic()) {
				o.route(c, m)
				return
			}
		}
		if m.Retained() {
			handle(retained{m})
			return
		}
		handle(m)
	}
	o := paho.NewClientOptions().
		AddBroker(cfg.Broker).
		SetClientID(cfg.ClientID).
		SetUsername(cfg.Username).
		SetPassword(cfg.Password).
		SetCleanSession(false).
		SetAutoAckDisabled(true).
		SetOrderMatters(true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(5 * time.Second).
		SetResumeSubs(true).
		SetKeepAlive(cfg.KeepAlive).
		SetPingTimeout(10 * time.Second).
		SetWriteTimeout(10 * time.Second).
		SetConnectTimeout(10 * time.Second).
		SetDefaultPublishHandler(h).
		SetOnConnectHandler(func(c paho.Client) {
			log.Info("mqtt connected", "broker", cfg.Broker, "client_id", cfg.ClientID)
			// Subscribing again on every connect is harmless with a
			// persistent session and repairs one the broker lost.
			filters := map[string]byte{}
			for _, f := range cfg.Filters() {
				filters[f] = 1
			}
			tok := c.SubscribeMultiple(filters, h)
			if !tok.WaitTimeout(30 * time.Second) {
				log.Error("mqtt subscribe timed out; not ready", "topics", cfg.Filters())
				return
			}
			if err := tok.Error(); err != nil {
				log.Error("mqtt subscribe failed; not ready", "topics", cfg.Filters(), "err", err)
				return
			}
			for _, x := range cl.extra {
				tok := c.Subscribe(x.filter, 1, func(_ paho.Client, m paho.Message) {
					x.handle(m.Topic(), m.Payload())
					m.Ack()
				})
				if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
					log.Error("mqtt subscribe failed; not ready", "topic", x.filter, "err", tok.Error())
					return
				}
			}
			for _, o := range cl.optional {
				if err := o.sync(c); err != nil {
					log.Error("mqtt subscribe failed; not ready", "topic", o.filter, "err", err)
					return
				}
			}
			cl.subscribed.Store(true)
			cl.readyOnce.Do(func() { close(cl.ready) })
			log.Info("mqtt subscribed", "topics", cfg.Filters())
			for _, f := range cl.onConnect {
				go f()
			}
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			cl.subscribed.Store(false)
			log.Warn("mqtt connection lost; reconnecting", "broker", cfg.Broker, "err", err)
			for _, f := range cl.onLost {
				f()
			}
		}).
		SetReconnectingHandler(func(_ paho.Client, _ *paho.ClientOptions) {
			log.Info("mqtt reconnecting", "broker", cfg.Broker)
		})
	tc, err := cfg.TLSConfig()
	if err != nil { // Validate reports it; dial without the files then fails visibly
		log.Error("mqtt TLS configuration", "err", err)
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	o.SetCustomOpenConnectionFn(Dialer(tc))
	if w := cfg.Will; w != nil {
		o.SetBinaryWill(w.Topic, w.Payload, 1, w.Retain)
	}
	cl.c = paho.NewClient(o)
	return cl
}

// Connect starts connecting; it returns once connected and subscribed (the
// broker answered SUBACK, so it keeps what devices publish from then on),
// or when ctx ends. paho keeps retrying in the background either way.
func (cl *Client) Connect(ctx context.Context) error {
	tok := cl.c.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return err
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-cl.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("connected but not subscribed: %w", ctx.Err())
	}
}

// Connected reports whether the connection is up and the subscription
// acknowledged: only then does the broker queue messages for ingest.
func (cl *Client) Connected() bool {
	return cl.c.IsConnectionOpen() && cl.subscribed.Load()
}

// Publish sends a message without waiting for the broker's acknowledgement.
// It returns an error when the client is not connected.
func (cl *Client) Publish(topic string, qos byte, retain bool, payload []byte) error {
	tok := cl.c.Publish(topic, qos, retain, payload)
	select {
	case <-tok.Done():
		return tok.Error()
	default:
		return nil
	}
}

// Close disconnects, giving in-flight acknowledgements up to quiesce to go out.
func (cl *Client) Close(quiesce time.Duration) {
	cl.c.Disconnect(uint(quiesce / time.Millisecond))
}
