package refusals

import (
	"fmt"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/payload"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func report(device string, reason payload.Reason, i int) contract.ErrorReport {
	return contract.ErrorReport{Device: device, Reason: reason, Error: fmt.Sprint(i)}
}

// TestRingKeepsTheLast50NewestFirst: the ring is per integrator, bounded,
// newest first.
func TestRingKeepsTheLast50NewestFirst(t *testing.T) {
	b := New((&clock{time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)}).now)
	for i := range 120 {
		b.Add("acme", report("cam-1", payload.ReasonWrongType, i), true)
	}
	b.Add("other", report("cam-9", payload.ReasonWrongType, 999), true)
	got := b.Recent("acme")
	if len(got) != Ring {
		t.Fatalf("%d reports kept, want %d", len(got), Ring)
	}
	for k, r := range got {
		if want := fmt.Sprint(119 - k); r.Error != want {
			t.Fatalf("report %d is %s, want %s (newest first)", k, r.Error, want)
		}
	}
	if o := b.Recent("other"); len(o) != 1 || o[0].Error != "999" {
		t.Fatalf("other integrator: %+v", o)
	}
	if n := b.Recent("nobody"); len(n) != 0 {
		t.Fatalf("unknown integrator: %+v", n)
	}
}

// TestCountsHourAndDay: refusals age out of the hour after an hour and
// out of the day after a day; notices of stored data and uncounted
// devices are not counted.
func TestCountsHourAndDay(t *testing.T) {
	c := &clock{time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)}
	b := New(c.now)
	add := func(n int) {
		for range n {
			b.Add("acme", report("cam-1", payload.ReasonMalformedJSON, 0), true)
		}
	}
	add(3)
	b.Add("acme", report("cam-1", payload.ReasonTooOldForAlerts, 0), true)
	b.Add("acme", report("ghost", payload.ReasonUnknownDevice, 0), false)
	for _, step := range []struct {
		advance time.Duration
		add     int
		want    Counts
	}{
		{0, 0, Counts{Hour: 3, Day: 3}},
		{30 * time.Minute, 2, Counts{Hour: 5, Day: 5}},
		{31 * time.Minute, 0, Counts{Hour: 2, Day: 5}},
		{30 * time.Minute, 0, Counts{Hour: 0, Day: 5}},
		{22*time.Hour + 55*time.Minute, 0, Counts{Hour: 0, Day: 2}},
		{30 * time.Minute, 0, Counts{Hour: 0, Day: 0}},
		{0, 1, Counts{Hour: 1, Day: 1}},
	} {
		c.t = c.t.Add(step.advance)
		add(step.add)
		if got := b.Count("acme", "cam-1"); got != step.want {
			t.Fatalf("after +%s: %+v, want %+v", step.advance, got, step.want)
		}
	}
	if got := b.Count("acme", "ghost"); got != (Counts{}) {
		t.Fatalf("uncounted device counted: %+v", got)
	}
	if got := b.Count("other", "cam-1"); got != (Counts{}) {
		t.Fatalf("another integrator's device counted: %+v", got)
	}
}
