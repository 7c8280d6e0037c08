package alert

import (
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/registry"
)

var t0 = time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)

type rig struct {
	t   *testing.T
	e   *Engine
	reg *registry.Registry
	now time.Time
	log []Transition
}

// newRig loads the shipped rules named by ids (all when none).
func newRig(t *testing.T, ids ...string) *rig {
	reg, err := registry.New(registry.File{
		Districts:   []registry.District{{ID: "d1", Name: "D1"}},
		Integrators: []registry.Integrator{{ID: "acme", Name: "A"}},
		Devices: []registry.Device{
			{ID: "nvr-1", Kind: registry.NVR, Name: "Đầu ghi 1", District: "d1", Integrator: "acme"},
			{ID: "cam-1", Kind: registry.Camera, Name: "Camera 1", District: "d1", Integrator: "acme", Parent: "nvr-1", Profile: &registry.Profile{FPS: 25, BitrateKbps: 2048}},
			{ID: "aq-1", Kind: registry.Sensor, Name: "Trạm 1", District: "d1", Integrator: "acme"},
			{ID: "wl-1", Kind: registry.Sensor, Name: "Mực nước 1", District: "d1", Integrator: "acme", Timeout: time.Hour},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	rules, err := LoadRules("../../configs/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) > 0 {
		var keep []*Rule
		for _, r := range rules.List {
			if contains(ids, r.ID) {
				keep = append(keep, r)
			}
		}
		rules.List = keep
	}
	r := &rig{t: t, e: NewEngine(rules, reg, Options{}), reg: reg, now: t0}
	r.e.Start(t0)
	return r
}

// at moves the clock to t0+d, firing deadlines on the way as a timer would.
func (r *rig) at(d time.Duration) {
	target := t0.Add(d)
	for {
		next, ok := r.e.NextDeadline()
		if !ok || next.After(target) {
			break
		}
		r.now = next
		r.log = append(r.log, r.e.Tick(next)...)
	}
	r.now = target
}

func (r *rig) send(device, measurement string, fields ...point.Field) {
	d, _ := r.reg.Device(device)
	p := point.Point{Measurement: measurement, Fields: fields, Time: r.now}
	if measurement == "event" {
		p.SetTag("type", fields[0].S)
		p.Fields = fields[1:]
	}
	r.log = append(r.log, r.e.Observe(d, []point.Point{p}, r.now)...)
}

// expect checks the transitions since the last call: "raised pm25-high/aq-1".
func (r *rig) expect(want ...string) []Transition {
	r.t.Helper()
	var got []string
	for _, tr := range r.log {
		got = append(got, tr.Kind+" "+tr.Alert.ID)
	}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		r.t.Fatalf("at +%s transitions\n got [%s]\nwant [%s]", r.now.Sub(t0), strings.Join(got, "; "), strings.Join(want, "; "))
	}
	out := r.log
	r.log = nil
	return out
}

func f(k string, v float64) point.Field { return point.FloatField(k, v) }

func TestThresholdHoldsAndHysteresis(t *testing.T) {
	r := newRig(t, "pm25-high")
	// Readings every minute. A spike shorter than 5 minutes raises nothing.
	for i, v := range []float64{160, 170, 140, 155, 160, 158, 152, 151} {
		r.at(time.Duration(i) * time.Minute)
		r.send("aq-1", "telemetry", f("pm25", v))
	}
	r.expect()
	// 155 from minute 3 on: held for 5 minutes at minute 8 (the deadline
	// fires between readings, as a timer would).
	r.at(8 * time.Minute)
	tr := r.expect("raised pm25-high/aq-1")
	if a := tr[0].Alert; a.Value != 151.0 || a.Message["vi"] != "Bụi mịn PM2.5 cao tại Trạm 1: 151 µg/m³" || a.Message["en"] != "High PM2.5 at Trạm 1: 151 µg/m³" {
		t.Fatalf("alert %+v", a)
	}
	// Hovering between 120 and 150 neither clears nor re-raises.
	for i, v := range []float64{149, 121, 119, 125, 130, 122} {
		r.at(time.Duration(9+i) * time.Minute)
		r.send("aq-1", "telemetry", f("pm25", v))
	}
	r.at(20 * time.Minute)
	r.expect()
	// Below 120 for 5 minutes clears.
	for i := range 6 {
		r.at(time.Duration(21+i) * time.Minute)
		r.send("aq-1", "telemetry", f("pm25", 100))
	}
	r.expect("resolved pm25-high/aq-1")
}

func TestRiseStatusEventAndFlap(t *testing.T) {
	r := newRig(t, "water-rising", "recorder-disk-full", "camera-low-fps", "camera-tamper")
	// Water rising 25 cm within 10 minutes.
	for i, v := range []float64{100, 105, 112, 126} {
		r.at(time.Duration(i*3) * time.Minute)
		r.send("wl-1", "telemetry", f("water_level_cm", v))
	}
	tr := r.expect("raised water-rising/wl-1")
	if tr[0].Alert.Value != 26.0 || tr[0].Alert.Severity != Critical {
		t.Fatalf("%+v", tr[0].Alert)
	}
	// Status: disk over 90% raises at once, clears below 85 (not at 88).
	r.send("nvr-1", "status", f("storage_pct", 93))
	r.expect("raised recorder-disk-full/nvr-1")
	r.at(10 * time.Minute)
	r.send("nvr-1", "status", f("storage_pct", 88))
	r.expect()
	r.send("nvr-1", "status", f("storage_pct", 80))
	r.expect("resolved recorder-disk-full/nvr-1")
	// Flapping: raised again within the flap window reopens the same alert.
	r.at(12 * time.Minute)
	r.send("nvr-1", "status", f("storage_pct", 95))
	if tr := r.expect("reopened recorder-disk-full/nvr-1"); tr[0].Alert.Flaps != 1 || tr[0].Alert.Count != 2 {
		t.Fatalf("flap %+v", tr[0].Alert)
	}
	// Camera fps below half its 25 fps profile for 2 minutes.
	r.send("cam-1", "status", f("fps", 10))
	r.at(14 * time.Minute)
	r.expect("raised camera-low-fps/cam-1")
	r.send("cam-1", "status", f("fps", 15)) // above 50% but below the 80% clear line
	r.at(20 * time.Minute)
	r.expect()
	// Tamper raises at once and clears after 15 minutes.
	r.send("cam-1", "event", point.StringField("type", "tamper"))
	r.expect("raised camera-tamper/cam-1")
	r.at(36 * time.Minute)
	r.expect("renotified water-rising/wl-1", "resolved camera-tamper/cam-1")
}

func TestOfflineDeadlinesAndLastWill(t *testing.T) {
	r := newRig(t, "device-offline")
	// Cameras and NVRs time out after 2 minutes, sensors after 15, wl-1
	// after its own hour. Each detection is at exactly its deadline.
	r.at(30 * time.Second)
	r.send("cam-1", "status", point.StringField("state", "online"))
	r.at(2*time.Minute + 29*time.Second)
	r.expect("raised device-offline/nvr-1")
	r.at(2*time.Minute + 30*time.Second)
	tr := r.expect("raised device-offline/cam-1")
	if got := tr[0].At.Sub(t0); got != 2*time.Minute+30*time.Second {
		t.Fatalf("cam-1 offline detected at +%s, want +2m30s", got)
	}
	r.at(15 * time.Minute)
	r.expect("raised device-offline/aq-1")
	// A message brings a device back.
	r.send("cam-1", "telemetry", f("x", 1))
	r.expect("resolved device-offline/cam-1")
	// The last will: a status that says offline raises at once.
	r.at(15*time.Minute + time.Second)
	r.send("cam-1", "status", point.StringField("state", "offline"))
	r.expect("reopened device-offline/cam-1")
	// An old reading from a backlog does not count as the device being back.
	d, _ := r.reg.Device("aq-1")
	r.e.Observe(d, []point.Point{{Measurement: "telemetry", Fields: []point.Field{f("pm25", 1)}, Time: t0}}, r.now)
	r.expect()
	// Critical and unacknowledged: announced again every 15 minutes, each
	// alert from its own (re)raising; cam-1's chain restarted when it reopened.
	r.at(59 * time.Minute)
	r.expect("renotified device-offline/nvr-1", "renotified device-offline/aq-1", "renotified device-offline/cam-1",
		"renotified device-offline/nvr-1", "renotified device-offline/aq-1", "renotified device-offline/cam-1",
		"renotified device-offline/nvr-1")
	r.at(60 * time.Minute)
	r.expect("renotified device-offline/aq-1", "raised device-offline/wl-1")
}

func TestAcknowledgeAndResolveByHand(t *testing.T) {
	r := newRig(t, "camera-tamper", "recorder-disk-full")
	r.send("cam-1", "event", point.StringField("type", "intrusion"))
	r.expect("raised camera-tamper/cam-1")
	if _, err := r.e.Acknowledge("camera-tamper/cam-1", "", "", r.now); err == nil {
		t.Fatal("anonymous acknowledgement accepted")
	}
	tr, err := r.e.Acknowledge("camera-tamper/cam-1", "operator1", "đã cử bảo vệ", r.now)
	if err != nil || tr.Kind != Acked || tr.Alert.Ack.By != "operator1" || tr.Alert.Ack.Note != "đã cử bảo vệ" {
		t.Fatalf("%v %+v", err, tr)
	}
	// Acknowledged: not announced again; it still clears on its own.
	r.at(16 * time.Minute)
	r.expect("resolved camera-tamper/cam-1")

	// Resolved by hand while the disk is still full: readings that stay
	// over the line do not raise it again until it has cleared.
	r.send("nvr-1", "status", f("storage_pct", 95))
	r.expect("raised recorder-disk-full/nvr-1")
	if tr, err := r.e.Resolve("recorder-disk-full/nvr-1", "tech2", "đã dọn ổ cứng", r.now); err != nil || len(tr) != 1 || tr[0].Alert.ResolvedBy != "tech2" {
		t.Fatalf("%v %+v", err, tr)
	}
	r.send("nvr-1", "status", f("storage_pct", 95))
	r.expect()
	if _, err := r.e.Resolve("recorder-disk-full/nvr-1", "tech2", "", r.now); err == nil {
		t.Fatal("resolving a resolved alert succeeded")
	}
	r.at(40 * time.Minute)
	r.send("nvr-1", "status", f("storage_pct", 70))
	r.send("nvr-1", "status", f("storage_pct", 96))
	r.expect("raised recorder-disk-full/nvr-1")
	if got := r.e.Active(); len(got) != 1 || got[0].ID != "recorder-disk-full/nvr-1" {
		t.Fatalf("active %+v", got)
	}
}

// TestEventClearsAfterTheLastEventWhateverHappensToTheAlert: an event
// alert clears ClearAfter after its last event; acknowledging it, or a
// restart after the acknowledgement, moves nothing.
func TestEventClearsAfterTheLastEventWhateverHappensToTheAlert(t *testing.T) {
	r := newRig(t, "camera-tamper")
	r.send("cam-1", "event", point.StringField("type", "tamper"))
	r.expect("raised camera-tamper/cam-1")
	r.at(5 * time.Minute)
	r.send("cam-1", "event", point.StringField("type", "tamper"))
	r.expect("updated camera-tamper/cam-1")
	r.at(12 * time.Minute)
	if _, err := r.e.Acknowledge("camera-tamper/cam-1", "op", "", r.now); err != nil {
		t.Fatal(err)
	}
	r.at(19 * time.Minute)
	r.expect()
	r.at(20 * time.Minute) // 15 minutes after the last event, not after the acknowledgement
	r.expect("resolved camera-tamper/cam-1")

	// The same across a restart after the acknowledgement.
	r.at(25 * time.Minute)
	r.send("cam-1", "event", point.StringField("type", "tamper"))
	r.expect("reopened camera-tamper/cam-1")
	r.at(35 * time.Minute)
	if _, err := r.e.Acknowledge("camera-tamper/cam-1", "op", "", r.now); err != nil {
		t.Fatal(err)
	}
	e2 := NewEngine(r.e.rules, r.reg, Options{})
	e2.Restore(r.e.Alerts(), r.e.Maintenance(), r.now)
	e2.Start(r.now)
	r.e, r.log = e2, nil
	r.at(39 * time.Minute)
	r.expect()
	r.at(40 * time.Minute)
	r.expect("resolved camera-tamper/cam-1")
}
