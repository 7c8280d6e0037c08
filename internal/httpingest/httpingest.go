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
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ioc-vn/ioc/internal/access"
	"github.com/ioc-vn/ioc/internal/mqttsub"
	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/quota"
)

// Pipeline takes messages; ingest.Pipeline is one.
type Pipeline interface {
	Handle(mqttsub.Message)
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
}

// Handler serves POST /v1/ingest/{integrator}/{device}/{channel}.
type Handler struct {
	pipe   Pipeline
	policy *access.Policy
	o      Options
	slots  chan struct{}
}

// New builds the handler. policy authenticates requests; it is required.
func New(pipe Pipeline, policy *access.Policy, o Options) (*Handler, error) {
	if pipe == nil || policy == nil {
		return nil, errors.New("httpingest: a pipeline and an access policy are required")
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 256
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = payload.DefaultLimits.MaxBytes
	}
	return &Handler{pipe: pipe, policy: policy, o: o, slots: make(chan struct{}, o.MaxConcurrent)}, nil
}

// Problem is the JSON body of every non-200 answer.
type Problem struct {
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

// Stored is the JSON body of a 200 answer.
type Stored struct {
	Status string `json:"status"` // "stored"
	Topic  string `json:"topic"`
}

func write(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Register adds the route to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("POST /v1/ingest/{integrator}/{device}/{channel}", h)
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="ioc ingest", charset="UTF-8"`)
		write(w, http.StatusUnauthorized, Problem{"unauthorized", "send the integrator's account with HTTP Basic authentication"})
		return
	}
	acct, ok := h.policy.Authenticate(user, []byte(pass))
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="ioc ingest", charset="UTF-8"`)
		write(w, http.StatusUnauthorized, Problem{"unauthorized", "unknown account or wrong password"})
		return
	}
	topic := "ioc/v1/" + r.PathValue("integrator") + "/" + r.PathValue("device") + "/" + r.PathValue("channel")
	if !acct.CanPublish(topic) {
		write(w, http.StatusForbidden, Problem{"forbidden", "account " + user + " may not publish to " + topic})
		return
	}
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		w.Header().Set("Retry-After", "1")
		write(w, http.StatusServiceUnavailable, Problem{"busy", "too many requests in flight; retry after a second"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(h.o.MaxBytes)))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			write(w, http.StatusRequestEntityTooLarge, Problem{string(payload.ReasonTooLarge), "body over " + strconv.Itoa(h.o.MaxBytes) + " bytes"})
			return
		}
		write(w, http.StatusBadRequest, Problem{"bad_request", "reading the body: " + err.Error()})
		return
	}
	if h.o.Quotas.Enabled() {
		if wait, why := h.o.Quotas.Allow(r.PathValue("integrator"), r.PathValue("device"), len(body), time.Now()); why != nil {
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
	if e := m.refusal(); e != nil {
		write(w, statusFor(e.Reason), Problem{string(e.Reason), e.Detail})
		return
	}
	write(w, http.StatusOK, Stored{Status: "stored", Topic: topic})
}

// statusFor maps a refusal reason onto an HTTP status.
func statusFor(r payload.Reason) int {
	switch r {
	case payload.ReasonTooLarge:
		return http.StatusRequestEntityTooLarge
	case payload.ReasonUnknownDevice, payload.ReasonBadTopic, payload.ReasonUnknownChannel:
		return http.StatusNotFound
	case payload.ReasonForeignDevice:
		return http.StatusForbidden
	}
	return http.StatusUnprocessableEntity
}

// message is one request in the pipeline.
type message struct {
	topic string
	body  []byte
	done  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	err   *payload.Error
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

func (m *message) refusal() *payload.Error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}
