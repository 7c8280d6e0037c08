package embedded_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/store"
	"github.com/ioc-vn/ioc/internal/store/embedded"
)

var day0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func reading(dev string, at time.Time, pm25 float64, aqi int64) point.Point {
	return point.Point{Measurement: "telemetry", Time: at,
		Tags:   []point.Tag{{Key: "device", Value: dev}},
		Fields: []point.Field{point.FloatField("pm25", pm25), point.IntField("aqi", aqi), point.StringField("grade", "ok")}}
}

func openStore(t *testing.T) *embedded.Store {
	t.Helper()
	s, err := embedded.Open(context.Background(), filepath.Join(t.TempDir(), "ioc.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func render(ss []store.Series) string {
	var b []byte
	for _, s := range ss {
		b = fmt.Appendf(b, "%s.%s:", s.Measurement, s.Field)
		for _, x := range s.Samples {
			b = fmt.Appendf(b, " %s=%.6f", x.Time.Format("02T15"), x.Mean)
		}
		b = append(b, '\n')
	}
	return string(b)
}

// TestRetentionKeepsHourlyHistory: three days of readings every 7 minutes
// (uneven per hour, so a mean of hourly means would be wrong), rolled up
// and their raw samples expired, give the same hourly, 3-hourly and daily
// means as before; raw queries there come back empty; a late reading for
// an expired hour joins its rollup; rollups expire in turn.
func TestRetentionKeepsHourlyHistory(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	var pts []point.Point
	for i := 0; i < 3*24*60/7; i++ {
		at := day0.Add(time.Duration(i) * 7 * time.Minute)
		pts = append(pts, reading("aq-01", at, float64(i%97)+0.25, int64(i%13)), reading("aq-02", at, 500, 1))
	}
	if err := s.Write(ctx, pts); err != nil {
		t.Fatal(err)
	}
	queries := []store.AggregateQuery{
		{Device: "aq-01", Measurement: "telemetry", From: day0, To: day0.Add(72 * time.Hour), Every: time.Hour},
		{Device: "aq-01", From: day0.Add(2 * time.Hour), To: day0.Add(50 * time.Hour), Every: 3 * time.Hour},
		{Device: "aq-01", From: day0, To: day0.Add(72 * time.Hour), Every: 24 * time.Hour},
	}
	before := make([]string, len(queries))
	for i, q := range queries {
		got, err := s.Aggregate(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		before[i] = render(got)
	}

	// Two days later with one day of raw retention: everything before
	// day 3 is hourly rollups only.
	ret := embedded.Retention{Raw: 24 * time.Hour, Rollup: 30 * 24 * time.Hour}
	st, err := s.Maintain(ctx, day0.Add(4*24*time.Hour+30*time.Minute), ret)
	if err != nil {
		t.Fatal(err)
	}
	if st.HoursRolledUp != 72 || st.RawDeleted == 0 || !st.RawCut.Equal(day0.Add(3*24*time.Hour)) {
		t.Fatalf("maintain: %+v; want 72 hours rolled up, raw deleted, cut at day 3", st)
	}
	raw, err := s.Query(ctx, store.Query{Device: "aq-01", From: day0, To: day0.Add(72 * time.Hour)})
	if err != nil || len(raw) != 0 {
		t.Fatalf("raw samples after retention: %d, %v; want none", len(raw), err)
	}
	for i, q := range queries {
		got, err := s.Aggregate(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if r := render(got); r != before[i] {
			t.Errorf("query %d after retention:\n%s\nwant (before):\n%s", i, r, before[i])
		}
	}
	if got, _ := s.Aggregate(ctx, store.AggregateQuery{Device: "aq-01", From: day0, To: day0.Add(time.Hour), Every: time.Minute}); len(got) != 0 {
		t.Errorf("minute windows over expired raw samples: %s; want none (only hourly history is kept there)", render(got))
	}

	// A late reading (a backlog) for an expired hour joins that hour.
	first, _ := s.Aggregate(ctx, store.AggregateQuery{Device: "aq-01", Measurement: "telemetry", From: day0, To: day0.Add(time.Hour), Every: time.Hour})
	if err := s.Write(ctx, []point.Point{reading("aq-01", day0.Add(59*time.Minute+30*time.Second), 1000, 0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Maintain(ctx, day0.Add(4*24*time.Hour+40*time.Minute), ret); err != nil {
		t.Fatal(err)
	}
	after, _ := s.Aggregate(ctx, store.AggregateQuery{Device: "aq-01", Measurement: "telemetry", From: day0, To: day0.Add(time.Hour), Every: time.Hour})
	// Hour 0 had readings at minutes 0, 7, ..., 56: 9 of them.
	pm := func(ss []store.Series) float64 { return ss[1].Samples[0].Mean }
	if want := (pm(first)*9 + 1000) / 10; len(after) != 2 || pm(after) != want {
		t.Fatalf("late reading: hour 0 pm25 mean %v, want %v (was %v)", pm(after), want, pm(first))
	}
	if raw, _ := s.Query(ctx, store.Query{Device: "aq-01", From: day0, To: day0.Add(time.Hour)}); len(raw) != 0 {
		t.Fatalf("late raw reading kept past retention: %v", raw)
	}

	// A month after the last day its rollups are gone too.
	st, err = s.Maintain(ctx, day0.Add(34*24*time.Hour+30*time.Minute), ret)
	if err != nil || st.RollupsDeleted == 0 {
		t.Fatalf("rollup retention: %+v, %v", st, err)
	}
	if got, _ := s.Aggregate(ctx, queries[0]); len(got) != 0 {
		t.Fatalf("history older than rollup retention: %s", render(got))
	}
}

// TestRetentionAcrossTheCut: a window spanning the cut adds the rollups
// before it and the raw samples after it.
func TestRetentionAcrossTheCut(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	var pts []point.Point
	for m := 0; m < 4*60; m += 10 { // hours 0..3, 6 readings each
		pts = append(pts, reading("aq-01", day0.Add(time.Duration(m)*time.Minute), float64(m/60), 0))
	}
	if err := s.Write(ctx, pts); err != nil {
		t.Fatal(err)
	}
	// Cut at hour 2: hours 0 and 1 are rollups, 2 and 3 raw.
	if _, err := s.Maintain(ctx, day0.Add(4*time.Hour+time.Minute), embedded.Retention{Raw: 2 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Aggregate(ctx, store.AggregateQuery{Device: "aq-01", Measurement: "telemetry", From: day0, To: day0.Add(4 * time.Hour), Every: 4 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got[1].Samples) != 1 || got[1].Samples[0].Mean != 1.5 {
		t.Fatalf("window across the cut: %s; want pm25 mean 1.5 (hours 0..3)", render(got))
	}
}

func TestRetentionValidate(t *testing.T) {
	for _, tc := range []struct {
		r  embedded.Retention
		ok bool
	}{
		{embedded.Retention{}, true},
		{embedded.Retention{Raw: 720 * time.Hour, Rollup: 17520 * time.Hour}, true},
		{embedded.Retention{Raw: time.Hour}, false},
		{embedded.Retention{Raw: 720 * time.Hour, Rollup: 24 * time.Hour}, false},
		{embedded.Retention{Rollup: 24 * time.Hour}, false},
	} {
		if err := tc.r.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: err %v, want ok=%v", tc.r, err, tc.ok)
		}
	}
}
