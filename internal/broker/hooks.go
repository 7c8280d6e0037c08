package broker

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ioc-vn/ioc/internal/access"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// This file holds the hooks that keep accounts apart beyond the topic ACL:
// a last will is a publish like any other (checked when the client
// connects and again when the will is sent), a client id belongs to the
// account whose session holds it, device topics are never retained, and
// the retained store is bounded.

// sessionHook admits a CONNECT once its credentials are good (authHook
// calls admit) and vets last wills when they are sent.
type sessionHook struct {
	mqtt.HookBase
	srv     *mqtt.Server
	policy  *atomic.Pointer[access.Policy] // nil inside: anonymous, everything allowed
	prefix  string                         // device topics: their wills lose the retain flag
	refused *prometheus.CounterVec
	log     *slog.Logger
	logs    map[string]*rate.Sometimes // per reason: a reconnect loop cannot flood the log

	mu sync.Mutex
	// connecting holds clients admitted but not yet in srv.Clients (mochi
	// adds them after taking over any session of the same id), so two
	// accounts connecting with one id at once cannot both pass.
	connecting map[string]*mqtt.Client
}

func newSessionHook(policy *atomic.Pointer[access.Policy], prefix string, refused *prometheus.CounterVec, log *slog.Logger) *sessionHook {
	return &sessionHook{
		policy: policy, prefix: prefix, refused: refused, log: log,
		logs:       map[string]*rate.Sometimes{"will": sometimes(), "client_id_in_use": sometimes()},
		connecting: map[string]*mqtt.Client{},
	}
}

// sometimes logs the first few, then one a minute.
func sometimes() *rate.Sometimes { return &rate.Sometimes{First: 5, Interval: time.Minute} }

func (h *sessionHook) ID() string { return "ioc-session" }

func (h *sessionHook) Provides(b byte) bool {
	return b == mqtt.OnWill || b == mqtt.OnSessionEstablished
}

// admit runs after the client's credentials were accepted (acct is nil
// for an anonymous broker). It refuses, with its own CONNACK, a will
// the account may not publish and a client id whose session belongs to
// another account; mochi then finds the connection closed and stops.
func (h *sessionHook) admit(cl *mqtt.Client, pk packets.Packet, acct *access.Account) bool {
	user := string(cl.Properties.Username)
	if acct != nil && pk.Connect.WillFlag && !acct.CanPublish(pk.Connect.WillTopic) {
		code := packets.ErrNotAuthorized
		code.Reason = fmt.Sprintf("not authorised: account %q may not publish its last will to %q", user, pk.Connect.WillTopic)
		if pk.Connect.WillTopic == "" || strings.ContainsAny(pk.Connect.WillTopic, "+#") {
			code = packets.ErrTopicNameInvalid
			code.Reason = fmt.Sprintf("the last will's topic %q is not a topic name (empty, or with + or #)", pk.Connect.WillTopic)
		}
		h.refuse(cl, "will", code, packets.Err3NotAuthorized,
			"broker: refused a last will outside the account's topics", "will_topic", pk.Connect.WillTopic)
		return false
	}

	if owner, ok := h.claim(cl, user); !ok {
		code := packets.ErrClientIdentifierNotValid
		code.Reason = fmt.Sprintf("client id %q is held by another account's session; use a client id of your own", cl.ID)
		h.refuse(cl, "client_id_in_use", code, packets.Err3ClientIdentifierNotValid,
			"broker: refused a client id whose session belongs to another account", "owner", owner)
		return false
	}
	return true
}

// claim records cl as connecting with its id unless a session or a
// connection of another account holds that id; it returns that account.
func (h *sessionHook) claim(cl *mqtt.Client, user string) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.connecting[cl.ID]; ok && c != cl && !c.Closed() {
		if owner := string(c.Properties.Username); owner != user {
			return owner, false
		}
	} else if ex, ok := h.srv.Clients.Get(cl.ID); ok {
		if owner := string(ex.Properties.Username); owner != user {
			return owner, false
		}
	}
	if len(h.connecting) > 1024 { // connections that died between authentication and CONNACK
		for id, c := range h.connecting {
			if c.Closed() {
				delete(h.connecting, id)
			}
		}
	}
	h.connecting[cl.ID] = cl
	return "", true
}

// refuse answers the CONNECT with code (v3code for MQTT 3.1.1), counts,
// logs and closes the connection.
func (h *sessionHook) refuse(cl *mqtt.Client, reason string, code, v3code packets.Code, msg string, attrs ...any) {
	h.refused.WithLabelValues(reason).Inc()
	h.logs[reason].Do(func() {
		h.log.Warn(msg, append([]any{"client", cl.ID, "username", string(cl.Properties.Username), "remote", cl.Net.Remote}, attrs...)...)
	})
	if cl.Properties.ProtocolVersion < 5 {
		code = v3code
	}
	_ = h.srv.SendConnack(cl, code, false, nil)
	cl.Stop(code)
}

// OnSessionEstablished: the client is in srv.Clients now, which holds the
// binding of its id for as long as its session lives (and, with the
// pebble store, across restarts: the stored session keeps its username).
func (h *sessionHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	h.mu.Lock()
	if h.connecting[cl.ID] == cl {
		delete(h.connecting, cl.ID)
	}
	h.mu.Unlock()
}

// OnWill checks the will again as it is sent: the credentials may have
// been reloaded since the client connected. A will the account may no
// longer publish goes nowhere (mochi publishes whatever OnWill returns;
// an empty topic matches no subscriber and is not retained). A device
// will is delivered but never retained.
func (h *sessionHook) OnWill(cl *mqtt.Client, will mqtt.Will) (mqtt.Will, error) {
	if p := h.policy.Load(); p != nil {
		a, ok := p.Account(string(cl.Properties.Username))
		if !ok || !a.CanPublish(will.TopicName) {
			h.refused.WithLabelValues("will").Inc()
			h.logs["will"].Do(func() {
				h.log.Warn("broker: dropped a last will the account may no longer publish", "client", cl.ID,
					"username", string(cl.Properties.Username), "will_topic", will.TopicName)
			})
			return mqtt.Will{}, nil
		}
	}
	if strings.HasPrefix(will.TopicName, h.prefix) {
		will.Retain = false
	}
	return will, nil
}

// RetainLimits bound the broker's retained messages (the alert service's
// alerts, device states and maintenance windows; device topics are never
// retained). A retained publish over a limit is still delivered, but not
// kept; ioc_broker_refused_total{reason="retained"} counts it.
type RetainLimits struct {
	Messages int
	Bytes    int64
}

// RetainLimitsFor sizes the limits for a registry: per device its state,
// a maintenance window and up to four active alerts, per district a
// maintenance window, and room for a thousand more; 2 KiB each on
// average (an alert with its messages in two languages is under 1 KiB).
func RetainLimitsFor(devices, districts int) RetainLimits {
	n := 6*devices + districts + 1024
	return RetainLimits{Messages: n, Bytes: int64(n) * 2048}
}

// retainHook keeps device topics out of the retained store and the rest
// of it within its limits. The broker's own $SYS topics, a fixed set,
// are not counted.
type retainHook struct {
	mqtt.HookBase
	prefix  string
	limits  RetainLimits
	refused *prometheus.CounterVec
	log     *slog.Logger
	logs    *rate.Sometimes

	mu    sync.Mutex
	sizes map[string]int // retained topic -> payload bytes
	bytes int64
}

func newRetainHook(prefix string, limits RetainLimits, refused *prometheus.CounterVec, log *slog.Logger) *retainHook {
	if limits.Messages <= 0 || limits.Bytes <= 0 {
		limits = RetainLimitsFor(0, 0)
	}
	return &retainHook{prefix: prefix, limits: limits, refused: refused, log: log, logs: sometimes(), sizes: map[string]int{}}
}

func (h *retainHook) ID() string { return "ioc-retain" }

func (h *retainHook) Provides(b byte) bool {
	return b == mqtt.OnPublish || b == mqtt.OnWill || b == mqtt.OnRetainMessage || b == mqtt.OnRetainedExpired
}

// load counts what the persistent store brought back (mochi restores it
// without calling OnRetainMessage).
func (h *retainHook) load(retained map[string]packets.Packet) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for topic, pk := range retained {
		if strings.HasPrefix(topic, "$") {
			continue
		}
		h.bytes += int64(len(pk.Payload) - h.sizes[topic])
		h.sizes[topic] = len(pk.Payload)
	}
}

// keep reports whether a retained message of n bytes on topic fits. The
// count is updated when mochi has stored it (OnRetainMessage), so
// concurrent publishers may overshoot by one message each.
func (h *retainHook) keep(clientID, topic string, n int) bool {
	if strings.HasPrefix(topic, h.prefix) {
		return false
	}
	if n == 0 || strings.HasPrefix(topic, "$") {
		return true // clears a retained message, or the broker's own $SYS
	}
	h.mu.Lock()
	old, had := h.sizes[topic]
	count, bytes := len(h.sizes), h.bytes+int64(n-old)
	if !had {
		count++
	}
	h.mu.Unlock()
	if count <= h.limits.Messages && bytes <= h.limits.Bytes {
		return true
	}
	h.refused.WithLabelValues("retained").Inc()
	h.logs.Do(func() {
		h.log.Warn("broker: retained store full; the message is delivered but not retained", "client", clientID, "topic", topic,
			"retained", count-1, "retained_bytes", bytes-int64(n), "max", h.limits.Messages, "max_bytes", h.limits.Bytes)
	})
	return false
}

func (h *retainHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Retain && !h.keep(cl.ID, pk.TopicName, len(pk.Payload)) {
		pk.FixedHeader.Retain = false
	}
	return pk, nil
}

func (h *retainHook) OnWill(cl *mqtt.Client, will mqtt.Will) (mqtt.Will, error) {
	if will.Retain && !h.keep(cl.ID, will.TopicName, len(will.Payload)) {
		will.Retain = false
	}
	return will, nil
}

func (h *retainHook) OnRetainMessage(_ *mqtt.Client, pk packets.Packet, _ int64) {
	if strings.HasPrefix(pk.TopicName, "$") {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	old, had := h.sizes[pk.TopicName]
	switch {
	case len(pk.Payload) > 0:
		h.sizes[pk.TopicName] = len(pk.Payload)
		h.bytes += int64(len(pk.Payload) - old)
	case had:
		delete(h.sizes, pk.TopicName)
		h.bytes -= int64(old)
	}
}

func (h *retainHook) OnRetainedExpired(topic string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if old, had := h.sizes[topic]; had {
		delete(h.sizes, topic)
		h.bytes -= int64(old)
	}
}
