package broker

import (
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ioc-vn/ioc/internal/access"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for the limits on connections that have not sent CONNECT yet.
const (
	// DefaultConnectTimeout is how long a new socket has to send its
	// CONNECT (TLS handshake included): a device on a slow mobile link
	// needs well under a second.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultMaxPendingPerAddress bounds sockets from one address that
	// have not sent CONNECT yet: a gateway reconnecting its devices at
	// once opens a few at a time; more is a flood.
	DefaultMaxPendingPerAddress = 16
	// DefaultClientQueue is the smallest per-client outbound queue. It is
	// a channel allocated for every socket as it is accepted, so it stays
	// small; ingest sizes it from the device count (see Config.ClientQueue).
	DefaultClientQueue = 1024
)

// connGuard tracks sockets that have not sent CONNECT yet, across the
// broker's listeners: it refuses one past the per-address cap, and the
// listener closes one that has not sent CONNECT by its deadline.
type connGuard struct {
	timeout    time.Duration
	maxPending int
	refused    *prometheus.CounterVec

	mu      sync.Mutex
	byAddr  map[string]int      // remote IP -> pending sockets
	pending map[net.Conn]string // pending socket -> remote IP
}

func newConnGuard(timeout time.Duration, maxPending int, refused *prometheus.CounterVec) *connGuard {
	return &connGuard{timeout: timeout, maxPending: maxPending, refused: refused, byAddr: map[string]int{}, pending: map[net.Conn]string{}}
}

func remoteIP(c net.Conn) string { return hostOf(c.RemoteAddr().String()) }

// admit registers a new socket as pending, or reports false (and counts
// it) when its address already has maxPending.
func (g *connGuard) admit(c net.Conn) bool {
	ip := remoteIP(c)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.byAddr[ip] >= g.maxPending {
		g.refused.WithLabelValues("pending_per_address").Inc()
		return false
	}
	g.byAddr[ip]++
	g.pending[c] = ip
	return true
}

// connected marks c as past CONNECT; it reports whether c was pending.
func (g *connGuard) connected(c net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	ip, ok := g.pending[c]
	if !ok {
		return false
	}
	delete(g.pending, c)
	if g.byAddr[ip]--; g.byAddr[ip] <= 0 {
		delete(g.byAddr, ip)
	}
	return true
}

// Pending is the number of sockets that have not sent CONNECT yet.
func (g *connGuard) Pending() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending)
}

// connectHook runs once a socket has sent its CONNECT, before the access
// policy's authentication: it tells the guard, answers a malformed client
// id with its own reason, and holds password guessing to the limiter's
// pace: a refused attempt is answered without running PBKDF2.
type connectHook struct {
	mqtt.HookBase
	guard   *connGuard
	server  *mqtt.Server
	policy  *atomic.Pointer[access.Policy] // nil inside: anonymous; swapped by reloads
	limiter *access.Limiter
	refused *prometheus.CounterVec
	log     *slog.Logger
}

func (h *connectHook) ID() string { return "ioc-connect-guard" }

func (h *connectHook) Provides(b byte) bool { return b == mqtt.OnConnect }

func (h *connectHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	if cl.Net.Conn != nil {
		h.guard.connected(cl.Net.Conn)
	}
	if !access.ValidName(cl.ID) {
		h.refused.WithLabelValues("client_id").Inc()
		h.log.Warn("broker: refused a client id that is empty, too long, or has + # / or spaces", "client", cl.ID, "remote", cl.Net.Remote)
		code := packets.ErrClientIdentifierNotValid
		if cl.Properties.ProtocolVersion == 5 { // the 3.1.1 code is looked up by the plain code
			code.Reason = ClientIDRule
		}
		return h.refuse(cl, code)
	}
	policy := h.policy.Load()
	if policy == nil {
		return nil
	}
	user, addr := string(cl.Properties.Username), hostOf(cl.Net.Remote)
	if wait, ok := h.limiter.Allow(user, addr); !ok {
		h.refused.WithLabelValues("rate_limited").Inc()
		h.log.Warn("broker: refused a login without checking it: too many wrong passwords", "username", user, "remote", cl.Net.Remote, "retry_after", wait)
		code := packets.ErrConnectionRateExceeded
		if cl.Properties.ProtocolVersion < 5 {
			code = packets.ErrServerUnavailable
		}
		return h.refuse(cl, code)
	}
	// The policy caches both answers, so the auth hook's own check that
	// follows costs no second PBKDF2.
	if _, ok := policy.Authenticate(user, pk.Connect.Password); ok {
		h.limiter.Succeeded(user, addr)
	} else {
		h.limiter.Failed(user, addr)
	}
	return nil
}

// ClientIDRule is the reason string of a CONNACK refusing a client id
// (MQTT 5), and the rule documented in docs/MQTT.md.
const ClientIDRule = "client identifier not valid: use 1-128 bytes without '+', '#', '/', spaces or control characters"

// refuse answers CONNECT with code and ends the connection.
func (h *connectHook) refuse(cl *mqtt.Client, code packets.Code) error {
	if err := h.server.SendConnack(cl, code, false, nil); err != nil {
		return fmt.Errorf("sending CONNACK %s: %w", code.Reason, err)
	}
	return code
}

func hostOf(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}
