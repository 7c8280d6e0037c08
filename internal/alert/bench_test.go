package alert

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/registry"
)

// benchSetup builds 10,000 devices (8,000 cameras, 2,000 sensors) and 50
// rules: the 7 shipped ones and 43 thresholds on other sensor fields.
func benchSetup(b *testing.B) (*Engine, []*registry.Device) {
	f := registry.File{Districts: []registry.District{{ID: "d1", Name: "D1"}}, Integrators: []registry.Integrator{{ID: "acme", Name: "A"}}}
	for i := range 10000 {
		kind := registry.Camera
		if i%5 == 0 {
			kind = registry.Sensor
		}
		f.Devices = append(f.Devices, registry.Device{ID: fmt.Sprintf("dev-%05d", i), Kind: kind, Name: fmt.Sprintf("Thiết bị %d", i),
			District: "d1", Integrator: "acme", Profile: &registry.Profile{FPS: 25, BitrateKbps: 2048}})
	}
	reg, err := registry.New(f)
	if err != nil {
		b.Fatal(err)
	}
	var yaml strings.Builder
	base, err := os.ReadFile("../../configs/rules.yaml")
	if err != nil {
		b.Fatal(err)
	}
	yaml.Write(base)
	for i := range 43 {
		fmt.Fprintf(&yaml, "  - {id: extra-%d, kind: threshold, severity: minor, scope: {kinds: [sensor]}, field: f%d, raise: {op: '>', value: 100, for: 1m}, message: {vi: x, en: y}}\n", i, i)
	}
	rules, err := ParseRules([]byte(yaml.String()))
	if err != nil {
		b.Fatal(err)
	}
	if len(rules.List) != 50 {
		b.Fatalf("%d rules", len(rules.List))
	}
	e := NewEngine(rules, reg, Options{})
	e.Start(t0)
	return e, reg.Devices()
}

// BenchmarkObserve: one telemetry or status message through 50 rules.
func BenchmarkObserve(b *testing.B) {
	e, devs := benchSetup(b)
	pts := make([][]point.Point, len(devs))
	for i, d := range devs {
		if d.Kind == registry.Sensor {
			pts[i] = []point.Point{{Measurement: "telemetry", Fields: []point.Field{point.FloatField("pm25", 35), point.FloatField("f1", 50)}}}
		} else {
			pts[i] = []point.Point{{Measurement: "status", Fields: []point.Field{point.StringField("state", "online"), point.BoolField("recording", true), point.FloatField("fps", 25)}}}
		}
	}
	now := t0
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		n := i % len(devs)
		pts[n][0].Time = now
		e.Observe(devs[n], pts[n], now)
		i++
		if i%len(devs) == 0 {
			now = now.Add(time.Second)
			e.Tick(now)
		}
	}
}

// BenchmarkHeapPerDevice reports the engine's heap per tracked device once
// every device has sent a status or a reading.
func BenchmarkHeapPerDevice(b *testing.B) {
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		e, devs := benchSetup(b)
		for _, d := range devs {
			p := []point.Point{{Measurement: "status", Time: t0, Fields: []point.Field{point.FloatField("fps", 25), point.FloatField("pm25", 30)}}}
			e.Observe(d, p, t0)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(len(devs)), "heapB/device")
		runtime.KeepAlive(e)
	}
}
