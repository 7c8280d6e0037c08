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
