// Package quota bounds how fast each integrator and each device may send:
// token buckets for messages and bytes per second. Callers ask how long a
// message must wait; the embedded broker makes the device's connection wait
// that long (the device is slowed, nothing is dropped) and HTTP ingest
// answers 429 with Retry-After.
package quota

import (
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limit is one rate with its burst.
type Limit struct {
	// Messages per second and the burst allowed above it; 0 is unlimited.
	Rate  float64 `yaml:"rate"`
	Burst int     `yaml:"burst"`
	// Bytes per second of payload and the burst above it; 0 is unlimited.
	BytesRate  float64 `yaml:"bytes_rate"`
	BytesBurst int     `yaml:"bytes_burst"`
}

// Config holds the default limits and per-integrator overrides.
type Config struct {
	Integrator Limit            `yaml:"integrator"`
	Device     Limit            `yaml:"device"`
	Overrides  map[string]Limit `yaml:"integrators"` // integrator id -> its limit
}

// Exceeded says which limit held a message back and for how long.
type Exceeded struct {
	Scope string // "integrator" or "device"
	Key   string // the integrator or device id
	What  string // "messages" or "bytes"
	Limit Limit
	Wait  time.Duration
}

func (e *Exceeded) Error() string {
	rate, burst, unit := e.Limit.Rate, e.Limit.Burst, "messages"
	if e.What == "bytes" {
		rate, burst, unit = e.Limit.BytesRate, e.Limit.BytesBurst, "payload bytes"
	}
	return fmt.Sprintf("%s %s is over its quota of %g %s/s (burst %d); the quota refills continuously and has room again in %s",
		e.Scope, e.Key, rate, unit, burst, max(e.Wait, time.Millisecond).Round(time.Millisecond))
}

type bucket struct{ msgs, bytes *rate.Limiter }

// full reports whether every limiter of b has refilled by now; such a
// bucket is what a new one would be, so it can be dropped.
func (b *bucket) full(now time.Time) bool {
	for _, l := range []*rate.Limiter{b.msgs, b.bytes} {
		if l != nil && l.TokensAt(now) < float64(l.Burst()) {
			return false
		}
	}
	return true
}

// maxBuckets bounds the buckets kept: device ids come from topics, which
// clients choose. Past it, refilled buckets are dropped.
const maxBuckets = 100_000

func newBucket(l Limit) *bucket {
	b := &bucket{}
	if l.Rate > 0 {
		b.msgs = rate.NewLimiter(rate.Limit(l.Rate), max(l.Burst, 1))
	}
	if l.BytesRate > 0 {
		b.bytes = rate.NewLimiter(rate.Limit(l.BytesRate), max(l.BytesBurst, 1))
	}
	return b
}

// Quotas tracks every integrator's and device's buckets. Safe for
// concurrent use.
type Quotas struct {
	cfg     Config
	mu      sync.Mutex
	buckets map[string]*bucket // "i:<id>" and "d:<integrator>/<id>"
}

// New returns quotas for cfg.
func New(cfg Config) *Quotas { return &Quotas{cfg: cfg, buckets: map[string]*bucket{}} }

func (q *Quotas) bucket(key string, l Limit, now time.Time) *bucket {
	q.mu.Lock()
	defer q.mu.Unlock()
	b, ok := q.buckets[key]
	if !ok {
		if len(q.buckets) >= maxBuckets {
			for k, x := range q.buckets {
				if x.full(now) {
					delete(q.buckets, k)
				}
			}
		}
		b = newBucket(l)
		q.buckets[key] = b
	}
	return b
}

func (q *Quotas) size() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.buckets)
}

func (q *Quotas) integratorLimit(id string) Limit {
	if l, ok := q.cfg.Overrides[id]; ok {
		return l
	}
	return q.cfg.Integrator
}

// Take reserves room for one message of size bytes at now and returns how
// long the sender must wait before it may be handled, and which limit made
// it wait (nil when it need not). The reservation is kept: waiting the
// returned time and then handling the message is the caller's part.
func (q *Quotas) Take(integrator, device string, size int, now time.Time) (time.Duration, *Exceeded) {
	return q.take(integrator, device, size, now, true)
}

// Allow is Take for callers that refuse instead of waiting: when the
// message would have to wait, nothing is reserved.
func (q *Quotas) Allow(integrator, device string, size int, now time.Time) (time.Duration, *Exceeded) {
	return q.take(integrator, device, size, now, false)
}

func (q *Quotas) take(integrator, device string, size int, now time.Time, keep bool) (time.Duration, *Exceeded) {
	var (
		wait time.Duration
		why  *Exceeded
		held []*rate.Reservation
	)
	defer func() {
		if !keep && wait > 0 {
			for _, r := range held {
				r.CancelAt(now)
			}
		}
	}()
	check := func(scope, key string, l Limit, b *bucket) {
		for _, x := range []struct {
			what string
			lim  *rate.Limiter
			n    int
		}{{"messages", b.msgs, 1}, {"bytes", b.bytes, size}} {
			if x.lim == nil {
				continue
			}
			n := min(x.n, x.lim.Burst()) // a message larger than the burst waits for a full bucket
			r := x.lim.ReserveN(now, n)
			held = append(held, r)
			if d := r.DelayFrom(now); d > wait {
				wait = d
				why = &Exceeded{Scope: scope, Key: key, What: x.what, Limit: l}
			}
		}
	}
	il := q.integratorLimit(integrator)
	check("integrator", integrator, il, q.bucket("i:"+integrator, il, now))
	check("device", device, q.cfg.Device, q.bucket("d:"+integrator+"/"+device, q.cfg.Device, now))
	if why != nil {
		why.Wait = wait
	}
	return wait, why
}

// Enabled reports whether any limit is set.
func (q *Quotas) Enabled() bool {
	if q == nil {
		return false
	}
	on := func(l Limit) bool { return l.Rate > 0 || l.BytesRate > 0 }
	if on(q.cfg.Integrator) || on(q.cfg.Device) {
		return true
	}
	for _, l := range q.cfg.Overrides {
		if on(l) {
			return true
		}
	}
	return false
}
