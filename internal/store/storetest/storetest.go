// Package storetest is the contract every store.Store must meet. Each
// implementation's tests call Run with a factory for a fresh, empty store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/store"
)

// Run runs the contract suite. open returns a new empty store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("RoundTrip", func(t *testing.T) { roundTrip(t, open(t)) })
	t.Run("RewriteIsIdempotent", func(t *testing.T) { rewrite(t, open(t)) })
	t.Run("RangeAndDeviceFilter", func(t *testing.T) { rangeFilter(t, open(t)) })
	t.Run("TypeConflictRejected", func(t *testing.T) { typeConflict(t, open(t)) })
	t.Run("AggregateDownsamples", func(t *testing.T) { aggregate(t, open(t)) })
	t.Run("ScanEveryDevice", func(t *testing.T) { scan(t, open(t)) })
	t.Run("FirstSeen", func(t *testing.T) { firstSeen(t, open(t)) })
	t.Run("LastSeen", func(t *testing.T) { lastSeen(t, open(t)) })
}

var base = time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)

func tags(device string, extra ...point.Tag) []point.Tag {
	p := point.Point{}
	p.SetTag("device", device)
	p.SetTag("district", "tp-thai-nguyen")
	p.SetTag("integrator", "vms-tn")
	p.SetTag("kind", "camera")
	p.SetTag("name", "Camera Bệnh viện 01")
	for _, t := range extra {
		p.SetTag(t.Key, t.Value)
	}
	return p.Tags
}

func render(pts []point.Point) string {
	var b strings.Builder
	for i := range pts {
		b.Write(point.AppendLine(nil, &pts[i]))
		b.WriteByte('\n')
	}
	return b.String()
}

func write(t *testing.T, s store.Store, pts ...point.Point) {
	t.Helper()
	if err := s.Write(context.Background(), pts); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func query(t *testing.T, s store.Store, q store.Query) string {
	t.Helper()
	got, err := s.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("Query(%+v): %v", q, err)
	}
	return render(got)
}

func roundTrip(t *testing.T, s store.Store) {
	in := []point.Point{
		{Measurement: "status", Tags: tags("cam-01"), Time: base.Add(time.Millisecond), Fields: []point.Field{
			point.StringField("state", "online"), point.BoolField("recording", true), point.FloatField("fps", 25),
			point.FloatField("storage_pct", 83.5), point.StringField("note", `quote " and \ backslash, comma=equals`), point.StringField("code", "0123"), point.StringField("level", "25.50"),
		}},
		{Measurement: "telemetry", Tags: tags("cam-01"), Time: base.Add(2 * time.Second), Fields: []point.Field{
			point.FloatField("pm25", 35.2), point.IntField("count", -42), point.StringField("ghi_chú", "Cầu Gia Bảy"),
		}},
		{Measurement: "air quality", Tags: tags("cam-01", point.Tag{Key: "sensor", Value: "a b,c=d"}), Time: base.Add(2 * time.Second), Fields: []point.Field{
			point.FloatField("pm10", 51),
		}},
	}
	write(t, s, in...)
	got := query(t, s, store.Query{Device: "cam-01", From: base, To: base.Add(time.Hour)})
	want := make([]point.Point, len(in))
	for i := range in {
		want[i] = in[i].Clone()
	}
	store.Normalize(want)
	if got != render(want) {
		t.Fatalf("round trip:\n got %s\nwant %s", got, render(want))
	}
	got = query(t, s, store.Query{Device: "cam-01", Measurement: "telemetry", From: base, To: base.Add(time.Hour)})
	if strings.Count(got, "\n") != 1 || !strings.HasPrefix(got, "telemetry,") {
		t.Fatalf("measurement filter returned:\n%s", got)
	}
}

func rewrite(t *testing.T, s store.Store) {
	p := point.Point{Measurement: "telemetry", Tags: tags("aq-01"), Time: base, Fields: []point.Field{point.FloatField("pm25", 10)}}
	write(t, s, p, p)
	write(t, s, p)
	p2 := p.Clone()
	p2.Fields = []point.Field{point.FloatField("pm10", 20)}
	write(t, s, p2)
	got := query(t, s, store.Query{Device: "aq-01", From: base, To: base.Add(time.Second)})
	if n := strings.Count(got, "\n"); n != 1 || !strings.Contains(got, "pm10=20") || !strings.Contains(got, "pm25=10") {
		t.Fatalf("rewrites should merge into one point with both fields, got %d:\n%s", n, got)
	}
}

func rangeFilter(t *testing.T, s store.Store) {
	var pts []point.Point
	for i := 0; i < 10; i++ {
		for _, dev := range []string{"wl-01", "wl-02"} {
			pts = append(pts, point.Point{Measurement: "telemetry", Tags: tags(dev), Time: base.Add(time.Duration(i) * time.Minute),
				Fields: []point.Field{point.FloatField("water_level_cm", float64(100+i))}})
		}
	}
	write(t, s, pts...)
	got := query(t, s, store.Query{Device: "wl-02", From: base.Add(2 * time.Minute), To: base.Add(5 * time.Minute)})
	var want strings.Builder
	for i := 2; i < 5; i++ {
		p := point.Point{Measurement: "telemetry", Tags: tags("wl-02"), Time: base.Add(time.Duration(i) * time.Minute),
			Fields: []point.Field{point.FloatField("water_level_cm", float64(100+i))}}
		want.Write(point.AppendLine(nil, &p))
		want.WriteByte('\n')
	}
	if got != want.String() {
		t.Fatalf("range [2m,5m) of wl-02:\n got %s\nwant %s", got, want.String())
	}
	if got := query(t, s, store.Query{Device: "nobody", From: base, To: base.Add(time.Hour)}); got != "" {
		t.Fatalf("unknown device returned %s", got)
	}
}

// typeConflict: a field written as a number then as a string in the same
// series is refused as the data's fault, so ingest can isolate the point.
// (InfluxDB fixes a field's type per shard; the embedded store follows.)
func typeConflict(t *testing.T, s store.Store) {
	p := point.Point{Measurement: "telemetry", Tags: tags("tc-01"), Time: base, Fields: []point.Field{point.FloatField("temp", 31.5)}}
	write(t, s, p)
	p2 := p.Clone()
	p2.Time = base.Add(time.Second)
	p2.Fields = []point.Field{point.StringField("temp", "hot")}
	err := s.Write(context.Background(), []point.Point{p2})
	if err == nil {
		t.Fatal("writing a string into a float field succeeded; want a RejectedError")
	}
	if !store.IsRejected(err) {
		t.Fatalf("type conflict error %v is not a store.RejectedError", err)
	}
	var re *store.RejectedError
	errors.As(err, &re)
	if !strings.Contains(fmt.Sprint(re), "temp") {
		t.Fatalf("type conflict error %q does not name the field", re)
	}
}

// aggregate: a day of minute readings averaged per hour comes back as 24
// samples per numeric field, each the mean of its hour, labelled with the
// hour's start even when the range starts mid-window; strings and booleans
// are left out, as are other devices and the range's end.
func aggregate(t *testing.T, s store.Store) {
	var pts []point.Point
	for i := 0; i < 24*60; i++ {
		at := base.Add(time.Duration(i) * time.Minute)
		pts = append(pts, point.Point{Measurement: "telemetry", Tags: tags("aq-01"), Time: at, Fields: []point.Field{
			point.FloatField("pm25", float64(i%60)), // mean 29.5 each hour
			point.IntField("aqi", int64(i/60)),      // the hour's index
			point.StringField("grade", "good"),
		}})
		pts = append(pts, point.Point{Measurement: "status", Tags: tags("aq-01"), Time: at, Fields: []point.Field{
			point.BoolField("online", true),
			point.FloatField("battery", 90),
		}})
		pts = append(pts, point.Point{Measurement: "telemetry", Tags: tags("aq-02"), Time: at, Fields: []point.Field{point.FloatField("pm25", 500)}})
	}
	for len(pts) > 0 {
		n := min(len(pts), 2000)
		write(t, s, pts[:n]...)
		pts = pts[n:]
	}
	ctx := context.Background()
	got, err := s.Aggregate(ctx, store.AggregateQuery{Device: "aq-01", Measurement: "telemetry", From: base, To: base.Add(24 * time.Hour), Every: time.Hour})
	if err != nil {
		t.Fatalf("Aggregate: %v", err)
	}
	if len(got) != 2 || got[0].Field != "aqi" || got[1].Field != "pm25" {
		t.Fatalf("series: got %+v, want telemetry aqi and pm25 only", names(got))
	}
	for _, sr := range got {
		if len(sr.Samples) != 24 {
			t.Fatalf("%s: %d samples, want 24", sr.Field, len(sr.Samples))
		}
		for h, sm := range sr.Samples {
			want := 29.5
			if sr.Field == "aqi" {
				want = float64(h)
			}
			if !sm.Time.Equal(base.Add(time.Duration(h)*time.Hour)) || sm.Mean != want {
				t.Fatalf("%s hour %d: got %v %v, want %v %v", sr.Field, h, sm.Time, sm.Mean, base.Add(time.Duration(h)*time.Hour), want)
			}
		}
	}

	// Three-hour windows: the embedded store serves these from its hourly
	// rollups once raw samples expire, so both stores must agree here.
	got, err = s.Aggregate(ctx, store.AggregateQuery{Device: "aq-01", Measurement: "telemetry", From: base, To: base.Add(24 * time.Hour), Every: 3 * time.Hour})
	if err != nil {
		t.Fatalf("Aggregate 3h: %v", err)
	}
	if len(got) != 2 || len(got[0].Samples) != 8 {
		t.Fatalf("3h windows: got %v", got)
	}
	for w, sm := range got[0].Samples {
		if want := float64(3*w + 1); sm.Mean != want || !sm.Time.Equal(base.Add(time.Duration(3*w)*time.Hour)) {
			t.Fatalf("aqi 3h window %d: got %v %v, want %v", w, sm.Time, sm.Mean, want)
		}
	}

	// A range starting and ending mid-hour: the first window is clipped
	// (minutes 30..59 of hour 0, mean 44.5) but labelled with its hour.
	got, err = s.Aggregate(ctx, store.AggregateQuery{Device: "aq-01", From: base.Add(30 * time.Minute), To: base.Add(2*time.Hour + 30*time.Minute), Every: time.Hour})
	if err != nil {
		t.Fatalf("Aggregate: %v", err)
	}
	if n := names(got); n != "status.battery telemetry.aqi telemetry.pm25" {
		t.Fatalf("series over all measurements: %s", n)
	}
	pm := got[2].Samples
	if len(pm) != 3 || !pm[0].Time.Equal(base) || pm[0].Mean != 44.5 || pm[1].Mean != 29.5 || pm[2].Mean != 14.5 {
		t.Fatalf("clipped windows: got %+v, want hours 0..2 with means 44.5, 29.5, 14.5", pm)
	}

	if got, err := s.Aggregate(ctx, store.AggregateQuery{Device: "nobody", From: base, To: base.Add(time.Hour), Every: time.Minute}); err != nil || len(got) != 0 {
		t.Fatalf("unknown device: got %v, %v; want nothing", got, err)
	}
}

func names(ss []store.Series) string {
	var n []string
	for _, s := range ss {
		n = append(n, s.Measurement+"."+s.Field)
	}
	return strings.Join(n, " ")
}

// scan: one measurement's points of every device, and points with no
// device tag (maintenance history), in time order, within the range, and
// refused past the limit.
func scan(t *testing.T, s store.Store) {
	alertAt := func(dev string, at time.Duration, transition string) point.Point {
		return point.Point{Measurement: "alert", Tags: tags(dev, point.Tag{Key: "rule", Value: "device-offline"}, point.Tag{Key: "transition", Value: transition}),
			Time: base.Add(at), Fields: []point.Field{point.StringField("id", "device-offline/"+dev), point.IntField("event_seq", int64(at/time.Second))}}
	}
	maint := point.Point{Measurement: "maintenance", Time: base.Add(90 * time.Second), Tags: []point.Tag{{Key: "target", Value: "district:vo-nhai"}, {Key: "transition", Value: "maintenance_started"}},
		Fields: []point.Field{point.StringField("by", "truc-ban"), point.IntField("event_seq", 7)}}
	in := []point.Point{
		alertAt("cam-02", time.Minute, "raised"), alertAt("cam-01", 2*time.Minute, "raised"), alertAt("cam-01", 3*time.Minute, "resolved"),
		alertAt("cam-02", time.Hour, "resolved"), maint,
		{Measurement: "telemetry", Tags: tags("cam-01"), Time: base.Add(time.Minute), Fields: []point.Field{point.FloatField("pm25", 1)}},
	}
	write(t, s, in...)
	ctx := context.Background()
	got, err := s.Scan(ctx, store.ScanQuery{Measurement: "alert", From: base, To: base.Add(time.Hour), Limit: 10})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	want := []point.Point{in[0].Clone(), in[1].Clone(), in[2].Clone()}
	store.Normalize(want)
	if render(got) != render(want) {
		t.Fatalf("Scan alert [0, 1h):\n got %s\nwant %s", render(got), render(want))
	}
	got, err = s.Scan(ctx, store.ScanQuery{Measurement: "maintenance", From: base, To: base.Add(time.Hour), Limit: 10})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	want = []point.Point{maint.Clone()}
	store.Normalize(want)
	if render(got) != render(want) {
		t.Fatalf("Scan maintenance:\n got %s\nwant %s", render(got), render(want))
	}
	if _, err := s.Scan(ctx, store.ScanQuery{Measurement: "alert", From: base, To: base.Add(2 * time.Hour), Limit: 3}); !errors.Is(err, store.ErrTooMany) {
		t.Fatalf("Scan of 4 points with limit 3: %v, want ErrTooMany", err)
	}
}

// lastSeen: each device's last point of its own data; the alert
// service's history about a device is not the device being seen.
func lastSeen(t *testing.T, s store.Store) {
	at := func(dev, m string, d time.Duration) point.Point {
		return point.Point{Measurement: m, Tags: tags(dev), Time: base.Add(d), Fields: []point.Field{point.FloatField("v", 1)}}
	}
	write(t, s, at("cam-01", "status", 2*time.Hour), at("cam-01", "telemetry", 3*time.Hour+time.Second), at("cam-01", "status", time.Hour),
		at("cam-02", "status", time.Hour), at("cam-02", "alert", 5*time.Hour), at("cam-03", "alert", 6*time.Hour))
	got, err := s.LastSeen(context.Background())
	if err != nil {
		t.Fatalf("LastSeen: %v", err)
	}
	want := map[string]time.Time{"cam-01": base.Add(3*time.Hour + time.Second), "cam-02": base.Add(time.Hour)}
	if len(got) != len(want) {
		t.Fatalf("LastSeen: got %v, want %v", got, want)
	}
	for dev, w := range want {
		if !got[dev].Equal(w) {
			t.Fatalf("LastSeen %s: got %v, want %v", dev, got[dev], w)
		}
	}
}

// firstSeen: each device's first point, whatever its measurement, if it
// is before the time asked; devices first seen at or after it are absent.
func firstSeen(t *testing.T, s store.Store) {
	at := func(dev, m string, d time.Duration) point.Point {
		return point.Point{Measurement: m, Tags: tags(dev), Time: base.Add(d), Fields: []point.Field{point.FloatField("v", 1)}}
	}
	write(t, s, at("cam-01", "status", 2*time.Hour), at("cam-01", "telemetry", time.Hour+time.Second), at("cam-01", "status", 3*time.Hour),
		at("cam-02", "alert", 5*time.Hour), at("cam-03", "status", 6*time.Hour))
	got, err := s.FirstSeen(context.Background(), base.Add(6*time.Hour))
	if err != nil {
		t.Fatalf("FirstSeen: %v", err)
	}
	want := map[string]time.Time{"cam-01": base.Add(time.Hour + time.Second), "cam-02": base.Add(5 * time.Hour)}
	if len(got) != len(want) {
		t.Fatalf("FirstSeen before 6h: got %v, want %v", got, want)
	}
	for dev, w := range want {
		if !got[dev].Equal(w) {
			t.Fatalf("FirstSeen %s: got %v, want %v", dev, got[dev], w)
		}
	}
}
