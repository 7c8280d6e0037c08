package broker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// The broker's log lines can be caused by anyone who opens a socket, so
// what they carry and how often they come is bounded here:
//
//   - mochi logs whole packets ("pk", "packet"): a refused 1 MiB publish
//     became about 3 MB of decimal bytes, and a second CONNECT on one
//     connection logged its password. A packet is replaced by its type,
//     topic (cut to maxLogTopic) and size; its payload and credentials never
//     reach the log.
//   - Warnings and errors are limited per client (or remote address) and
//     overall; what is held back is counted, and the next line let through
//     for that key says how many were.
const (
	maxLogTopic    = 128
	maxLogString   = 256
	logPerKeyEvery = time.Second // one line a second per client after the burst
	logPerKeyBurst = 5
	logAllPerSec   = 50 // every client together
	logAllBurst    = 100
	// logMaxKeys bounds the per-client limiters; past it they are all
	// forgotten (the overall limiter still holds) rather than growing with
	// every made-up client id.
	logMaxKeys = 4096
)

// logLimits is the state shared by a limitedHandler and those derived
// from it with WithAttrs or WithGroup.
type logLimits struct {
	suppressed prometheus.Counter
	mu         sync.Mutex
	all        *rate.Limiter
	keys       map[string]*keyLimit
}

type keyLimit struct {
	lim     *rate.Limiter
	dropped int
}

// limitedHandler wraps the broker's slog handler.
type limitedHandler struct {
	next   slog.Handler
	limits *logLimits
	key    string // client or remote from WithAttrs, if any
}

func newLimitedLogger(log *slog.Logger, suppressed prometheus.Counter) *slog.Logger {
	return slog.New(&limitedHandler{next: log.Handler(), limits: &logLimits{
		suppressed: suppressed,
		all:        rate.NewLimiter(logAllPerSec, logAllBurst),
		keys:       map[string]*keyLimit{},
	}})
}

func (h *limitedHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *limitedHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = sanitize(a)
		if k := limitKey(a); k != "" {
			c.key = k
		}
	}
	c.next = h.next.WithAttrs(out)
	return &c
}

func (h *limitedHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	return &c
}

func (h *limitedHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	if r.Level >= slog.LevelWarn {
		key := h.key
		r.Attrs(func(a slog.Attr) bool {
			if k := limitKey(a); k != "" {
				key = k
			}
			return true
		})
		held, ok := h.limits.allow(key+"\x00"+r.Message, r.Time)
		if !ok {
			return nil
		}
		if held > 0 {
			out.AddAttrs(slog.Int("suppressed_before", held))
		}
	}
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(sanitize(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// allow reports whether a line with key may be written at now, and how many
// lines with that key were held back since the last one written.
func (l *logLimits) allow(key string, now time.Time) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.keys[key]
	if k == nil {
		if len(l.keys) >= logMaxKeys {
			clear(l.keys)
		}
		k = &keyLimit{lim: rate.NewLimiter(rate.Every(logPerKeyEvery), logPerKeyBurst)}
		l.keys[key] = k
	}
	if !k.lim.AllowN(now, 1) || !l.all.AllowN(now, 1) {
		k.dropped++
		l.suppressed.Inc()
		return 0, false
	}
	held := k.dropped
	k.dropped = 0
	return held, true
}

// limitKey names whom a line is about: the client id, else the remote
// address.
func limitKey(a slog.Attr) string {
	switch a.Key {
	case "client", "remote":
		return a.Key + "=" + truncate(a.Value.String(), maxLogString)
	}
	return ""
}

// sanitize replaces packets by a short description and cuts long strings.
func sanitize(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if s := v.String(); len(s) > maxLogString {
			return slog.String(a.Key, truncate(s, maxLogString))
		}
		return a
	case slog.KindAny:
	default:
		return a
	}
	switch x := v.Any().(type) {
	case packets.Packet:
		return describe(a.Key, &x)
	case *packets.Packet:
		if x == nil {
			return a
		}
		return describe(a.Key, x)
	case []byte:
		return slog.Int(a.Key+"_bytes", len(x))
	case error, string:
		s := v.String()
		if len(s) > maxLogString {
			return slog.String(a.Key, truncate(s, maxLogString))
		}
		return a
	default:
		// Anything else from mochi would be printed with %+v, which can
		// be large and can hold secrets: keep only its type.
		return slog.String(a.Key, fmt.Sprintf("%T", x))
	}
}

func describe(key string, pk *packets.Packet) slog.Attr {
	return slog.Group(key,
		slog.String("type", packets.PacketNames[pk.FixedHeader.Type]),
		slog.String("topic", truncate(pk.TopicName, maxLogTopic)),
		slog.Int("payload_bytes", len(pk.Payload)),
	)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
