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
// rules: the 13 shipped ones and 37 thresholds on other sensor fields.
func benchSetup(b *testing.B) (*Engine, []*registry.Device) {
	rules, reg := benchConfig(b)
	e := NewEngine(rules, reg, Options{})
	e.Start(t0)
	return e, reg.Devices()
}

func benchConfig(b *testing.B) (*Rules, *registry.Registry) {
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
	for i := range 37 {
		fmt.Fprintf(&yaml, "  - {id: extra-%d, kind: threshold, severity: minor, scope: {kinds: [sensor]}, field: f%d, raise: {op: '>', value: 100, for: 1m}, message: {vi: x, en: y}}\n", i, i)
	}
	rules, err := ParseRules([]byte(yaml.String()))
	if err != nil {
		b.Fatal(err)
	}
	if len(rules.List) != 50 {
		b.Fatalf("%d rules", len(rules.List))
	}
	return rules, reg
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
// every device has sent a status or a reading (the registry, which ingest
// holds anyway, not counted).
func BenchmarkHeapPerDevice(b *testing.B) {
	for b.Loop() {
		rules, reg := benchConfig(b)
		devs := reg.Devices()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		e := NewEngine(rules, reg, Options{})
		e.Start(t0)
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

// BenchmarkMassOutage: 10,000 devices in 10 districts fall silent at once;
// one Tick turns them into 10 district alerts with every device's alert
// folded under its district (or its recorder).
func BenchmarkMassOutage(b *testing.B) {
	f := registry.File{Integrators: []registry.Integrator{{ID: "acme", Name: "A"}}}
	for d := range 10 {
		f.Districts = append(f.Districts, registry.District{ID: fmt.Sprintf("d%d", d), Name: fmt.Sprintf("Huyện %d", d)})
	}
	for i := range 10000 {
		dev := registry.Device{ID: fmt.Sprintf("dev-%05d", i), Kind: registry.Camera, Name: fmt.Sprintf("Camera %d", i),
			District: fmt.Sprintf("d%d", i%10), Integrator: "acme", Parent: fmt.Sprintf("dev-%05d", i-i%20+i%10)}
		if i%20 < 10 {
			dev.Kind, dev.Parent = registry.NVR, ""
		}
		f.Devices = append(f.Devices, dev)
	}
	reg, err := registry.New(f)
	if err != nil {
		b.Fatal(err)
	}
	rules, err := LoadRules("../../configs/rules.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		e := NewEngine(rules, reg, Options{})
		e.Start(t0)
		b.StartTimer()
		tr := e.Tick(t0.Add(2 * time.Minute))
		b.StopTimer()
		districts, top := 0, 0
		for _, x := range tr {
			if x.Alert.IsDistrict() {
				districts++
			}
		}
		for _, a := range e.Active() {
			if a.Parent == "" {
				top++
			}
		}
		if districts != 10 || top != 10 {
			b.Fatalf("%d district alerts, %d alerts not folded; want 10 and 10", districts, top)
		}
		b.StartTimer()
	}
}
