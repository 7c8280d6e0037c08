package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/point"
	"github.com/prometheus/client_golang/prometheus"
)

// Report is what an integrator receives on ioc/v1/<integrator>/_errors
// when a message is refused (contract.ErrorReport).
type Report = contract.ErrorReport

const payloadHeadBytes = 200

// Rejecter is implemented by messages that want to know why they were
// refused (HTTP ingest answers with it). Reject is called before Ack.
type Rejecter interface {
	Reject(*payload.Error)
}

// RecordRejecter is implemented by messages that want to know which of
// a gateway's devices had their records refused while the rest of the
// message was stored (HTTP ingest lists them in its 200 answer).
// RejectRecords is called before Ack.
type RecordRejecter interface {
	RejectRecords(Refusal)
}

// reject records a refused message (Reporter.refused) and tells the
// message itself if it asks.
func (p *Pipeline) reject(m Message, meta msgMeta, body []byte, e *payload.Error) {
	if r, ok := m.(Rejecter); ok {
		r.Reject(e)
	}
	p.reports.refused(meta, body, e)
}

// Notify tells an integrator about something that is not a refusal
// (Reporter.Notify).
func (p *Pipeline) Notify(integrator, device, topic string, e *payload.Error) {
	p.reports.Notify(integrator, device, topic, e)
}

// refused records a refused message: metric, rate-limited log, report.
func (r *Reporter) refused(meta msgMeta, body []byte, e *payload.Error) {
	size := len(body)
	r.m.rejected.WithLabelValues(string(e.Reason)).Inc()
	if ok, suppressed := r.limiter.allow(string(e.Reason), time.Now()); ok {
		r.log.Warn("ingest: message rejected", "reason", e.Reason, "err", e.Detail,
			"topic", meta.topic, "integrator", meta.integrator, "device", meta.device, "suppressed", suppressed)
	}
	if meta.integrator == "" {
		return // no integrator to tell: the topic did not name a valid one
	}
	r.send(meta.integrator, Report{
		Time:        r.now().UTC(),
		Topic:       meta.topic,
		Device:      meta.device,
		Channel:     meta.channel,
		Reason:      e.Reason,
		Error:       e.Detail,
		PayloadSize: size,
		PayloadHead: payloadHead(body),
	})
}

// payloadHead is the start of body a report quotes, as valid UTF-8.
func payloadHead(body []byte) string {
	if len(body) > payloadHeadBytes {
		body = body[:payloadHeadBytes]
	}
	return strings.ToValidUTF8(string(body), string(utf8.RuneError))
}

// refuseRecords reports the n of total records of a gateway's message
// that belong to device id ("" the topic's), refused; the rest of the
// message is stored, so the message itself is not refused.
func (p *Pipeline) refuseRecords(m Message, meta msgMeta, id string, n, total int, body []byte, e *payload.Error) {
	if r, ok := m.(RecordRejecter); ok {
		dev := id
		if dev == "" {
			dev = meta.device
		}
		r.RejectRecords(Refusal{Device: dev, Points: n, Reason: e.Reason, Error: e.Detail})
	}
	p.reports.refusedRecords(meta, id, n, total, body, e)
}

func (r *Reporter) refusedRecords(meta msgMeta, id string, n, total int, body []byte, e *payload.Error) {
	if id != "" {
		meta.device = id
	}
	r.m.rejected.WithLabelValues(string(e.Reason)).Inc()
	if ok, suppressed := r.limiter.allow(string(e.Reason), time.Now()); ok {
		r.log.Warn("ingest: records of a gateway's message rejected", "reason", e.Reason, "err", e.Detail,
			"topic", meta.topic, "integrator", meta.integrator, "device", meta.device, "records", n, "suppressed", suppressed)
	}
	r.send(meta.integrator, Report{
		Time: r.now().UTC(), Topic: meta.topic, Device: meta.device, Channel: meta.channel, Reason: e.Reason,
		Error:       fmt.Sprintf("%s (%d of the message's %d points refused; the others were stored)", e.Detail, n, total),
		PayloadSize: len(body), PayloadHead: payloadHead(body),
	})
}

// RejectLater reports a point refused after its message was acknowledged
// (by the database behind the spool): counted as a rejection, logged, and
// published to the integrator's errors topic with the point's line.
func (r *Reporter) RejectLater(pt *point.Point, e *payload.Error) {
	integrator, _ := pt.Tag("integrator")
	device, _ := pt.Tag("device")
	topic := contract.DeviceTopic(integrator, device, pt.Measurement)
	line := point.AppendLine(nil, pt)
	r.refused(msgMeta{topic: topic, integrator: integrator, device: device, channel: pt.Measurement}, line, e)
}

// Notify tells an integrator about something that is not a refusal (a
// device slowed by its quota): counted, logged and published at most once a
// second per integrator and device.
func (r *Reporter) Notify(integrator, device, topic string, e *payload.Error) {
	r.m.notices.WithLabelValues(string(e.Reason)).Inc()
	if ok, suppressed := r.limiter.allow("notice/"+integrator+"/"+device, time.Now()); ok {
		r.log.Warn("ingest: "+string(e.Reason), "err", e.Detail, "integrator", integrator, "device", device, "suppressed", suppressed)
		r.send(integrator, Report{Time: r.now().UTC(), Topic: topic, Device: device, Reason: e.Reason, Error: e.Detail})
	}
}

type outgoing struct {
	topic string
	body  []byte
}

// Reporter records what ingest refuses (a message, a point the database
// refused after acknowledgement) and the notices it gives (quota): the
// metric, a rate-limited log line and a report on the integrator's
// _errors topic. Reports are published from Run's goroutine through a
// bounded queue, so a slow or absent broker never stalls ingest. It is
// built before the spool, the pipeline and the source that use it; Run
// takes the source it publishes through.
type Reporter struct {
	log     *slog.Logger
	now     func() time.Time
	m       reporterMetrics
	q       chan outgoing
	limiter *limiter
}

// NewReporter makes a reporter; its metrics go to reg (if not nil).
func NewReporter(log *slog.Logger, reg prometheus.Registerer, now func() time.Time) *Reporter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Reporter{log: log, now: now, m: newReporterMetrics(reg), q: make(chan outgoing, 4096), limiter: newLimiter(time.Second)}
}

func (r *Reporter) send(integrator string, rep Report) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // integrators read these; keep < > & as they are
	_ = enc.Encode(rep)      // a Report always encodes
	select {
	case r.q <- outgoing{topic: contract.ErrorsTopic(integrator), body: bytes.TrimSpace(buf.Bytes())}:
	default:
		r.m.reportsDropped.Inc()
	}
}

// Run publishes the queued reports through pub until ctx ends.
func (r *Reporter) Run(ctx context.Context, pub Publisher) error {
	for {
		select {
		case o := <-r.q:
			if err := pub.Publish(o.topic, 1, false, o.body); err != nil {
				r.m.reportsDropped.Inc()
				if ok, _ := r.limiter.allow("publish", time.Now()); ok {
					r.log.Warn("ingest: could not publish rejection report", "topic", o.topic, "err", err)
				}
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// limiter lets one log line per key through per interval and counts the rest.
type limiter struct {
	every time.Duration
	mu    sync.Mutex
	last  map[string]time.Time
	held  map[string]int
}

func newLimiter(every time.Duration) *limiter {
	return &limiter{every: every, last: map[string]time.Time{}, held: map[string]int{}}
}

// maxLimiterKeys bounds the keys remembered: notice keys name devices, and
// devices come from topics, which clients choose. Forgetting only lets one
// more line through.
const maxLimiterKeys = 10_000

// allow reports whether to log now, and how many were suppressed since.
func (l *limiter) allow(key string, now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, known := l.last[key]; !known && len(l.last) >= maxLimiterKeys {
		clear(l.last)
		clear(l.held)
	}
	if now.Sub(l.last[key]) < l.every {
		l.held[key]++
		return false, 0
	}
	n := l.held[key]
	l.last[key], l.held[key] = now, 0
	return true, n
}
