// Package refusals keeps, in the IOC server's memory, what ingest reported
// on the integrators' _errors topics: the most recent reports of each
// integrator in a bounded ring, and per device the refusals of the last
// hour and day. It counts since the server started; nothing is stored.
package refusals

import (
	"sync"
	"time"

	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/payload"
)

// Ring is the reports kept per integrator.
const Ring = 50

// bucket is the width of a counting bucket; a device keeps a day of them.
const (
	bucket  = 5 * time.Minute
	buckets = int(24 * time.Hour / bucket)
)

// Book holds the reports. Its methods may be called from any goroutine.
type Book struct {
	now     func() time.Time
	started time.Time

	mu   sync.Mutex
	ring map[string]*ring     // integrator -> last reports
	devs map[string]*counters // integrator + "/" + device -> counts
}

type ring struct {
	items []contract.ErrorReport
	next  int // where the next one goes once full
}

// counters are one device's refusals per 5-minute bucket over the last
// day; slot[i] counts bucket number at[i] (a Unix bucket index).
type counters struct {
	slot [buckets]uint32
	at   [buckets]int64
}

// New makes an empty book on clock now (nil: time.Now).
func New(now func() time.Time) *Book {
	if now == nil {
		now = time.Now
	}
	return &Book{now: now, started: now(), ring: map[string]*ring{}, devs: map[string]*counters{}}
}

// Since is when counting started.
func (b *Book) Since() time.Time { return b.started }

// Refusal reports the notices that are not refusals: the message was
// stored (too_old_for_alerts); they are kept in the ring but not counted.
func Refusal(r payload.Reason) bool { return r != payload.ReasonTooOldForAlerts }

// Add keeps report r of integrator. counted says whether its device is
// one of the integrator's registered devices, whose refusals are counted
// (the caller checks, so that made-up device ids cost no memory).
func (b *Book) Add(integrator string, r contract.ErrorReport, counted bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	rg := b.ring[integrator]
	if rg == nil {
		rg = &ring{}
		b.ring[integrator] = rg
	}
	if len(rg.items) < Ring {
		rg.items = append(rg.items, r)
	} else {
		rg.items[rg.next] = r
		rg.next = (rg.next + 1) % Ring
	}
	if !counted || r.Device == "" || !Refusal(r.Reason) {
		return
	}
	key := integrator + "/" + r.Device
	c := b.devs[key]
	if c == nil {
		c = &counters{}
		b.devs[key] = c
	}
	n := b.now().UnixNano() / int64(bucket)
	i := int(n % int64(buckets))
	if c.at[i] != n {
		c.at[i], c.slot[i] = n, 0
	}
	c.slot[i]++
}

// Recent returns integrator's kept reports, newest first.
func (b *Book) Recent(integrator string) []contract.ErrorReport {
	b.mu.Lock()
	defer b.mu.Unlock()
	rg := b.ring[integrator]
	if rg == nil {
		return []contract.ErrorReport{}
	}
	out := make([]contract.ErrorReport, 0, len(rg.items))
	for k := range len(rg.items) {
		i := (rg.next - 1 - k + 2*len(rg.items)) % len(rg.items)
		out = append(out, rg.items[i])
	}
	return out
}

// Counts are a device's refusals over the last hour and the last day
// (to the 5-minute bucket), since the server started.
type Counts struct {
	Hour int `json:"hour"`
	Day  int `json:"day"`
}

// Count returns device's refusals of integrator.
func (b *Book) Count(integrator, device string) Counts {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.devs[integrator+"/"+device]
	if c == nil {
		return Counts{}
	}
	n := b.now().UnixNano() / int64(bucket)
	hour := int64(time.Hour / bucket)
	var out Counts
	for i := range buckets {
		age := n - c.at[i]
		if c.slot[i] == 0 || age < 0 || age >= int64(buckets) {
			continue
		}
		out.Day += int(c.slot[i])
		if age < hour {
			out.Hour += int(c.slot[i])
		}
	}
	return out
}
