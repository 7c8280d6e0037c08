// Package httpingest lets integrators that cannot speak MQTT send the same
// payloads over HTTP:
//
//	POST /v1/ingest/<integrator>/<device_id>/<telemetry|status|event>
//	Authorization: Basic <the integrator's MQTT account>
//
// A request becomes a message in the same pipeline as MQTT's, on topic
// ioc/v1/<integrator>/<device_id>/<channel>. The answer waits for the
// pipeline's acknowledgement, so 200 means what a PUBACK means: the data is
// stored. A refusal is answered 4xx with the same reason and error text as
// the _errors topic (where it is also published).
package httpingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ioc-vn/ioc/internal/access"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/ingest"
	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/quota"
	"github.com/ioc-vn/ioc/internal/validate"
	"github.com/prometheus/client_golang/prometheus"
)

// Pipeline takes messages; ingest.Pipeline is one.
type Pipeline interface {
	Handle(ingest.Message)
	// Validate checks a message as Handle would, storing nothing.
	Validate(topic string, body []byte) (ingest.Validation, *payload.Error)
	// Notify tells an integrator, on its _errors topic, about a message
	// refused before it reached the pipeline (quota).
	Notify(integrator, device, topic string, e *payload.Error)
}

// Options bound the endpoint.
type Options struct {
	// MaxBytes bounds a request body (the pipeline's payload limit).
	MaxBytes int
	// MaxConcurrent bounds requests in flight; more are answered 503.
	MaxConcurrent int
	// Timeout bounds the wait for the data to be stored; past it the answer
	// is 503 and the client should retry (the data may yet be stored once).
	Timeout time.Duration
	// Quotas, if set, answer 429 to a sender over its quota.
	Quotas *quota.Quotas
	// MaxPerAccount bounds one account's requests in flight, so one
	// integrator cannot take every slot; more are answered 503.
	MaxPerAccount int
	// BodyTimeout bounds reading a request's body, which happens before
	// the request takes a slot: a stalled body holds no slot, and its
	// connection is cut when this passes.
	BodyTimeout time.Duration
	// Guesses paces wrong passwords (shared with the broker); nil makes
	// one with the defaults.
	Guesses *access.Limiter
	// Metrics, if set, gets ioc_httpingest_refused_total.
	Metrics prometheus.Registerer
}

// Defaults for Options.
const (
	DefaultMaxConcurrent = 256
	DefaultMaxPerAccount = 16
	DefaultBodyTimeout   = 10 * time.Second
)

// Handler serves POST /v1/ingest/{integrator}/{device}/{channel}.
type Handler struct {
	pipe    Pipeline
	policy  atomic.Pointer[access.Policy] // swapped by SetPolicy on a reload
	o       Options
	slots   chan struct{}
	refused *prometheus.CounterVec

	mu       sync.Mutex
	inFlight map[string]int // by account
}

// New builds the handler. policy authenticates requests; it is required.
func New(pipe Pipeline, policy *access.Policy, o Options) (*Handler, error) {
	if pipe == nil || policy == nil {
		return nil, errors.New("httpingest: a pipeline and an access policy are required")
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = DefaultMaxConcurrent
	}
	if o.MaxPerAccount <= 0 {
		o.MaxPerAccount = DefaultMaxPerAccount
	}
	if o.BodyTimeout <= 0 {
		o.BodyTimeout = DefaultBodyTimeout
	}
	if o.Guesses == nil {
		o.Guesses = access.NewLimiter(access.LimiterOptions{}, nil, o.Metrics)
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = payload.DefaultLimits.MaxBytes
	}
	h := &Handler{pipe: pipe, o: o, slots: make(chan struct{}, o.MaxConcurrent), inFlight: map[string]int{},
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ioc_httpingest_refused_total",
			Help: "HTTP ingest requests answered before the pipeline, by reason: unauthorized, rate_limited, forbidden, busy, quota_exceeded, bad_request.",
		}, []string{"reason"})}
	if o.Metrics != nil {
		if err := o.Metrics.Register(h.refused); err != nil {
			return nil, fmt.Errorf("httpingest: metrics: %w", err)
		}
	}
	h.policy.Store(policy)
	return h, nil
}

// SetPolicy swaps in reloaded credentials (nil is ignored): the next
// request is checked against them.
func (h *Handler) SetPolicy(p *access.Policy) {
	if p != nil {
		h.policy.Store(p)
	}
}

// Problem is the JSON body of every non-200 answer.
type Problem struct {
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

// Stored is the JSON body of a 200 answer. A gateway's message whose
// records for some devices were refused is stored for the others; those
// devices are listed in Refused (and reported on _errors).
type Stored struct {
	Status  string           `json:"status"` // "stored"
	Topic   string           `json:"topic"`
	Refused []ingest.Refusal `json:"refused,omitempty"`
}

// Refused is the body of an answer refusing the data: a gateway's
// message all of whose devices were refused lists each in Refused.
type Refused struct {
	Problem
	Refused []ingest.Refusal `json:"refused,omitempty"`
}

func write(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Register adds the routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("POST /v1/ingest/{integrator}/{device}/{channel}", h)
	mux.HandleFunc("POST /v1/validate/{integrator}/{device}/{channel}", h.validate)
}

// Checked is the answer to a payload that passes validation.
type Checked struct {
	Valid bool `json:"valid"` // true
	ingest.Validation
}

// Invalid is the answer to a payload that fails it: the reason and error
// that ingest would answer and publish on _errors.
type Invalid struct {
	Valid bool `json:"valid"` // false
	Problem
	Refused []ingest.Refusal `json:"refused,omitempty"`
}

// validate answers what a message would become, storing nothing: 200
// with the points, as line protocol with the registry's tags, or the
// status, reason and error ingest would answer. Nothing is published on
// _errors and no quota is spent.
func (h *Handler) validate(w http.ResponseWriter, r *http.Request) {
	user, topic, body, ok := h.admit(w, r)
	if !ok {
		return
	}
	if !h.take(user) {
		h.refused.WithLabelValues("busy").Inc()
		w.Header().Set("Retry-After", "1")
		write(w, http.StatusServiceUnavailable, Problem{"busy", "too many requests in flight; retry after a second"})
		return
	}
	defer h.release(user)
	v, pe := h.pipe.Validate(topic, body)
	if pe != nil {
		write(w, statusFor(pe.Reason), Invalid{Problem: Problem{string(pe.Reason), pe.Detail}, Refused: v.Refused})
		return
	}
	write(w, http.StatusOK, Checked{Valid: true, Validation: v})
}

// admit authenticates and authorises a request and reads its body; it
// answers and returns false when the request goes no further.
func (h *Handler) admit(w http.ResponseWriter, r *http.Request) (user, topic string, body []byte, ok bool) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		h.refused.WithLabelValues("unauthorized").Inc()
		w.Header().Set("WWW-Authenticate", `Basic realm="ioc ingest", charset="UTF-8"`)
		write(w, http.StatusUnauthorized, Problem{"unauthorized", "send the integrator's account with HTTP Basic authentication"})
		return "", "", nil, false
	}
	addr := r.RemoteAddr
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	if wait, ok := h.o.Guesses.Allow(user, addr); !ok {
		h.refused.WithLabelValues("rate_limited").Inc()
		w.Header().Set("Retry-After", strconv.Itoa(max(int(math.Ceil(wait.Seconds())), 1)))
		write(w, http.StatusTooManyRequests, Problem{"rate_limited", "too many wrong passwords for this account from this address; retry after the time in Retry-After"})
		return "", "", nil, false
	}
	acct, ok := h.policy.Load().Authenticate(user, []byte(pass))
	if !ok {
		h.o.Guesses.Failed(user, addr)
		h.refused.WithLabelValues("unauthorized").Inc()
		w.Header().Set("WWW-Authenticate", `Basic realm="ioc ingest", charset="UTF-8"`)
		write(w, http.StatusUnauthorized, Problem{"unauthorized", "unknown account or wrong password"})
		return "", "", nil, false
	}
	h.o.Guesses.Succeeded(user, addr)
	topic = contract.DeviceTopic(r.PathValue("integrator"), r.PathValue("device"), r.PathValue("channel"))
	// Only integrator and device accounts send device data: the server
	// processes' accounts may not, whatever their topics.
	if !acct.SendsDeviceData() || !acct.CanPublish(topic) {
		h.refused.WithLabelValues("forbidden").Inc()
		write(w, http.StatusForbidden, Problem{"forbidden", "account " + user + " may not publish to " + topic})
		return "", "", nil, false
	}
	// Read the body before taking a slot, under its own deadline: a
	// sender that stalls holds its connection until then, not a slot.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(h.o.BodyTimeout))
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(h.o.MaxBytes)+1))
	if err != nil {
		h.refused.WithLabelValues("bad_request").Inc()
		write(w, http.StatusBadRequest, Problem{"bad_request", "reading the body: " + err.Error() + " (send the whole body within " + h.o.BodyTimeout.String() + ")"})
		return "", "", nil, false
	}
	_ = rc.SetReadDeadline(time.Time{})
	return user, topic, body, true
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, topic, body, ok := h.admit(w, r)
	if !ok {
		return
	}
	integrator, device := r.PathValue("integrator"), r.PathValue("device")
	// A body over the limit goes on to the pipeline, cut at one byte over:
	// it refuses it as payload_too_large (413), counts it and tells the
	// integrator, as for MQTT.
	if !h.take(user) {
		h.refused.WithLabelValues("busy").Inc()
		w.Header().Set("Retry-After", "1")
		write(w, http.StatusServiceUnavailable, Problem{"busy", "too many requests in flight; retry after a second"})
		return
	}
	defer h.release(user)
	if h.o.Quotas.Enabled() && len(body) <= h.o.MaxBytes {
		if wait, why := h.o.Quotas.Allow(integrator, device, len(body), time.Now()); why != nil {
			h.refused.WithLabelValues(string(payload.ReasonQuota)).Inc()
			e := payload.Errorf(payload.ReasonQuota, "%s; this request was refused (HTTP 429): send it again after Retry-After", why.Error())
			h.pipe.Notify(integrator, device, topic, e)
			secs := int(math.Ceil(wait.Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
			write(w, http.StatusTooManyRequests, Problem{string(payload.ReasonQuota), why.Error()})
			return
		}
	}
	m := &message{topic: topic, body: body, done: make(chan struct{})}
	h.pipe.Handle(m)
	timer := time.NewTimer(h.o.Timeout)
	defer timer.Stop()
	select {
	case <-m.done:
	case <-timer.C:
		w.Header().Set("Retry-After", "5")
		write(w, http.StatusServiceUnavailable, Problem{"not_stored_yet", "the data was not confirmed stored in time; send it again (a repeat is stored once if it carries ts)"})
		return
	case <-r.Context().Done():
		return
	}
	e, records := m.refusal()
	if e != nil {
		write(w, statusFor(e.Reason), Refused{Problem: Problem{string(e.Reason), e.Detail}, Refused: records})
		return
	}
	write(w, http.StatusOK, Stored{Status: "stored", Topic: topic, Refused: records})
}

// take claims a slot overall and one of the account's; false if either
// is full.
func (h *Handler) take(account string) bool {
	h.mu.Lock()
	if h.inFlight[account] >= h.o.MaxPerAccount {
		h.mu.Unlock()
		return false
	}
	h.inFlight[account]++
	h.mu.Unlock()
	select {
	case h.slots <- struct{}{}:
		return true
	default:
		h.unclaim(account)
		return false
	}
}

func (h *Handler) release(account string) {
	<-h.slots
	h.unclaim(account)
}

func (h *Handler) unclaim(account string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.inFlight[account]--; h.inFlight[account] <= 0 {
		delete(h.inFlight, account)
	}
}

// statusFor maps a refusal reason onto an HTTP status.
func statusFor(r payload.Reason) int { return validate.HTTPStatus(r) }

// message is one request in the pipeline.
type message struct {
	topic string
	body  []byte
	done  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	err   *payload.Error
	recs  []ingest.Refusal // a gateway's devices refused
}

func (m *message) Topic() string     { return m.topic }
func (m *message) Payload() []byte   { return m.body }
func (m *message) MessageID() uint16 { return 0 }
func (m *message) Duplicate() bool   { return false }
func (m *message) Ack()              { m.once.Do(func() { close(m.done) }) }

func (m *message) Reject(e *payload.Error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err == nil {
		m.err = e
	}
}

// RejectRecords records a gateway's device whose records were refused.
func (m *message) RejectRecords(r ingest.Refusal) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs = append(m.recs, r)
}

func (m *message) refusal() (*payload.Error, []ingest.Refusal) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err, m.recs
}
