package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/point"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ioc-vn/ioc/internal/payload"
)

// Report is what an integrator receives on ioc/v1/<integrator>/_errors when
// a message is refused. The JSON field names are part of the contract.
type Report struct {
	Time        time.Time      `json:"ts"`
	Topic       string         `json:"topic"`
	Device      string         `json:"device,omitempty"`
	Channel     string         `json:"channel,omitempty"`
	Reason      payload.Reason `json:"reason"`
	Error       string         `json:"error"`
	PayloadSize int            `json:"payload_bytes"`
	PayloadHead string         `json:"payload_head,omitempty"`
}

const payloadHeadBytes = 200

// Rejecter is implemented by messages that want to know why they were
// refused (HTTP ingest answers with it). Reject is called before Ack.
type Rejecter interface {
	Reject(*payload.Error)
}

// reject records a refused message: metric, rate-limited log, report, and
// the message itself if it asks.
func (p *Pipeline) reject(m Message, meta msgMeta, body []byte, e *payload.Error) {
	if r, ok := m.(Rejecter); ok {
		r.Reject(e)
	}
	size := len(body)
	p.m.rejected.WithLabelValues(string(e.Reason)).Inc()
	if ok, suppressed := p.reports.limiter.allow(string(e.Reason), time.Now()); ok {
		p.log.Warn("ingest: message rejected", "reason", e.Reason, "err", e.Detail,
			"topic", meta.topic, "integrator", meta.integrator, "device", meta.device, "suppressed", suppressed)
	}
	if meta.integrator == "" {
		return // no integrator to tell: the topic did not name a valid one
	}
	p.reports.send(meta.integrator, Report{
		Time:        p.now().UTC(),
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
func (p *Pipeline) refuseRecords(meta msgMeta, id string, n, total int, body []byte, e *payload.Error) {
	if id != "" {
		meta.device = id
	}
	p.m.rejected.WithLabelValues(string(e.Reason)).Inc()
	if ok, suppressed := p.reports.limiter.allow(string(e.Reason), time.Now()); ok {
		p.log.Warn("ingest: records of a gateway's message rejected", "reason", e.Reason, "err", e.Detail,
			"topic", meta.topic, "integrator", meta.integrator, "device", meta.device, "records", n, "suppressed", suppressed)
	}
	p.reports.send(meta.integrator, Report{
		Time: p.now().UTC(), Topic: meta.topic, Device: meta.device, Channel: meta.channel, Reason: e.Reason,
		Error:       fmt.Sprintf("%s (%d of the message's %d points refused; the others were stored)", e.Detail, n, total),
		PayloadSize: len(body), PayloadHead: payloadHead(body),
	})
}

// RejectLater reports a point refused after its message was acknowledged
// (by the database behind the spool): counted as a rejection, logged, and
// published to the integrator's errors topic with the point's line.
func (p *Pipeline) RejectLater(pt *point.Point, e *payload.Error) {
	integrator, _ := pt.Tag("integrator")
	device, _ := pt.Tag("device")
	topic := contract.DeviceTopic(integrator, device, pt.Measurement)
	line := point.AppendLine(nil, pt)
	p.reject(nil, msgMeta{topic: topic, integrator: integrator, device: device, channel: pt.Measurement}, line, e)
}

// Notify tells an integrator about something that is not a refusal (a
// device slowed by its quota): counted, logged and published at most once a
// second per integrator and device.
func (p *Pipeline) Notify(integrator, device, topic string, e *payload.Error) {
	p.m.notices.WithLabelValues(string(e.Reason)).Inc()
	if ok, suppressed := p.reports.limiter.allow("notice/"+integrator+"/"+device, time.Now()); ok {
		p.log.Warn("ingest: "+string(e.Reason), "err", e.Detail, "integrator", integrator, "device", device, "suppressed", suppressed)
		p.reports.send(integrator, Report{Time: p.now().UTC(), Topic: topic, Device: device, Reason: e.Reason, Error: e.Detail})
	}
}

type outgoing struct {
	topic string
	body  []byte
}

// reporter publishes reports from its own goroutine through a bounded
// queue, so a slow or absent broker never stalls ingest.
type reporter struct {
	pub     Publisher
	log     *slog.Logger
	m       *metrics
	q       chan outgoing
	limiter *limiter
}

func newReporter(pub Publisher, log *slog.Logger, m *metrics) *reporter {
	return &reporter{pub: pub, log: log, m: m, q: make(chan outgoing, 4096), limiter: newLimiter(time.Second)}
}

func (r *reporter) send(integrator string, rep Report) {
	if r.pub == nil {
		return
	}
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

func (r *reporter) run(ctx context.Context) {
	for {
		select {
		case o := <-r.q:
			if err := r.pub.Publish(o.topic, 1, false, o.body); err != nil {
				r.m.reportsDropped.Inc()
				if ok, _ := r.limiter.allow("publish", time.Now()); ok {
					r.log.Warn("ingest: could not publish rejection report", "topic", o.topic, "err", err)
				}
			}
		case <-ctx.Done():
			return
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
