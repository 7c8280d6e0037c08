package alertd

import (
	"log/slog"
	"sync"
	"time"

	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/ingest"
	"github.com/ioc-vn/ioc/internal/point"
)

// Alerting has one owner. When several ingest processes share the device
// stream (a shared subscription), one runs the alert service; the others
// forward what they store to it over the broker, so its engine sees every
// stored message and it alone publishes alerts and applies commands.

// maxObservationBytes bounds one observations message (brokers commonly
// limit messages to 1 MiB or less).
const maxObservationBytes = 256 << 10

// Forwarder is the ingest.Observer of an ingest that does not own
// alerting: it publishes each stored batch to the owner.
type Forwarder struct {
	pub   Publisher
	topic string
	log   *slog.Logger

	mu      sync.Mutex
	buf     []byte
	lastErr time.Time
}

var _ ingest.Observer = (*Forwarder)(nil)

// NewForwarder publishes to contract.ObservationsPrefix + id.
func NewForwarder(pub Publisher, id string, log *slog.Logger) *Forwarder {
	return &Forwarder{pub: pub, topic: contract.ObservationsPrefix + id, log: log}
}

// Stored implements ingest.Observer.
func (f *Forwarder) Stored(msgs []ingest.Stored) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.buf = f.buf[:0]
	for _, m := range msgs {
		for i := range m.Points {
			if len(f.buf) >= maxObservationBytes {
				f.send()
			}
			f.buf = point.AppendLine(f.buf, &m.Points[i])
			f.buf = append(f.buf, '\n')
		}
	}
	if len(f.buf) > 0 {
		f.send()
	}
}

func (f *Forwarder) send() {
	body := append([]byte(nil), f.buf...) // the publisher may keep it
	f.buf = f.buf[:0]
	if err := f.pub.Publish(f.topic, 1, false, body); err != nil && time.Since(f.lastErr) > 10*time.Second {
		f.lastErr = time.Now()
		f.log.Warn("alerts: could not forward stored data to the alert owner; its liveness may lag", "err", err)
	}
}

// Observed evaluates a forwarding ingest's observations message: what
// another ingest of the group stored.
func (s *Service) Observed(body []byte) {
	pts, err := point.DecodeLines(nil, body)
	if err != nil {
		s.log.Warn("alerts: undecodable observations from another ingest", "err", err)
	}
	s.mu.Lock()
	reg := s.reg
	s.mu.Unlock()
	var msgs []ingest.Stored
	for start := 0; start < len(pts); {
		dev, _ := pts[start].Tag("device")
		end := start + 1
		for end < len(pts) {
			if d, _ := pts[end].Tag("device"); d != dev {
				break
			}
			end++
		}
		if d, ok := reg.Device(dev); ok {
			msgs = append(msgs, ingest.Stored{Device: d, Points: pts[start:end]})
		}
		start = end
	}
	if len(msgs) > 0 {
		s.Stored(msgs)
	}
}
