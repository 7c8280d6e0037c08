package ingest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/point"
)

func series(m string, from, n int) []point.Point {
	pts := make([]point.Point, n)
	for i := range pts {
		pts[i] = point.Point{Measurement: m, Tags: []point.Tag{{Key: "id", Value: fmt.Sprint(from + i)}}}
	}
	return pts
}

func TestCardinality(t *testing.T) {
	c := newCardinality(10, 3)
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	f := func(integrator, device string, pts []point.Point, now time.Time, want payload.Reason, detail string) {
		t.Helper()
		pe := c.admit(integrator, device, pts, now)
		switch {
		case want == "" && pe != nil:
			t.Fatalf("%s %d points: %v", device, len(pts), pe)
		case want != "" && (pe == nil || pe.Reason != want || !strings.Contains(pe.Detail, detail)):
			t.Fatalf("%s %d points: %v; want %s mentioning %q", device, len(pts), pe, want, detail)
		}
	}
	f("a", "d1", series("m", 0, 6), at, "", "")
	f("a", "d1", series("m", 0, 6), at, "", "")                  // the same series again
	f("a", "d1", series("m", 4, 4), at.Add(time.Minute), "", "") // two new: 8
	// 8 + 3 new > 10: refused whole, and nothing of it counted.
	f("a", "d1", series("m", 8, 3), at, payload.ReasonTooManySeries, "would write 11 distinct series (measurement and tag set) this hour; the limit is 10")
	f("a", "d1", series("m", 8, 2), at, "", "") // exactly 10
	f("a", "d1", series("m", 10, 1), at, payload.ReasonTooManySeries, "limit is 10")
	f("a", "d1", series("m", 0, 10), at, "", "")  // known series still pass
	f("a", "d2", series("m", 10, 10), at, "", "") // per device
	// The next clock hour starts afresh.
	f("a", "d1", series("m", 100, 10), at.Add(time.Hour), "", "")
	f("a", "d1", series("m", 200, 1), at.Add(time.Hour+time.Minute), payload.ReasonTooManySeries, "limit is 10")

	// Measurement names per integrator: m is the first of 3.
	f("a", "d3", append(series("n", 0, 1), series("o", 0, 1)...), at, "", "")
	f("a", "d3", series("p", 0, 1), at, payload.ReasonTooManyMeasurements, `measurement "p" would be integrator a's measurement number 4; the limit is 3`)
	f("a", "d3", series("o", 1, 1), at, "", "")
	f("b", "d4", series("p", 0, 1), at, "", "") // per integrator
}
