package alert

import (
	"fmt"
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
	// windows is what alerts.db holds of the condition windows (restart).
	windows map[string]Window
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
		got = append(got, string(tr.Kind)+" "+tr.Alert.ID)
	}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		r.t.Fatalf("at +%s transitions\n got [%s]\nwant [%s]", r.now.Sub(t0), strings.Join(got, "; "), strings.Join(want, "; "))
	}
	out := r.log
	r.log = nil
	return out
}

// expectFor is expect for the transitions of one alert, dropping the others.
func (r *rig) expectFor(id string, want ...string) []Transition {
	r.t.Helper()
	var mine []Transition
	for _, tr := range r.log {
		if tr.Alert.ID == id {
			mine = append(mine, tr)
		}
	}
	r.log = mine
	return r.expect(want...)
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
	trs, err := r.e.Acknowledge("camera-tamper/cam-1", "operator1", "đã cử bảo vệ", r.now)
	if err != nil || len(trs) != 1 || trs[0].Kind != Acked || trs[0].Alert.Ack.By != "operator1" || trs[0].Alert.Ack.Note != "đã cử bảo vệ" {
		t.Fatalf("%v %+v", err, trs)
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
	e2 := NewEngine(r.e.rules, r.reg, r.e.o)
	e2.Restore(r.e.Alerts(), r.e.Maintenance(), r.now)
	e2.Start(r.now)
	r.e, r.log = e2, nil
	r.at(39 * time.Minute)
	r.expect()
	r.at(40 * time.Minute)
	r.expect("resolved camera-tamper/cam-1")
}

// restart replaces the engine by a new one built from what ingest saves in
// alerts.db: the alerts, the maintenance windows, and the condition
// windows as WindowChanges handed them out. down is how long no engine
// ran (the clock moves on without firing anything).
func (r *rig) restart(down time.Duration) {
	r.t.Helper()
	if r.windows == nil {
		r.windows = map[string]Window{}
	}
	for _, w := range r.e.WindowChanges() {
		if w.Since.IsZero() {
			delete(r.windows, w.ID())
		} else {
			r.windows[w.ID()] = w
		}
	}
	var ws []Window
	for _, w := range r.windows {
		ws = append(ws, w)
	}
	r.now = r.now.Add(down)
	e2 := NewEngine(r.e.rules, r.reg, r.e.o)
	e2.Restore(r.e.Alerts(), r.e.Maintenance(), r.now)
	e2.RestoreWindows(ws, r.now)
	e2.Start(r.now)
	r.e = e2
}

// minutes sends one reading a minute from minute from to minute to (both
// included).
func (r *rig) minutes(from, to int, device string, fields ...point.Field) {
	for m := from; m <= to; m++ {
		r.at(time.Duration(m) * time.Minute)
		r.send(device, "telemetry", fields...)
	}
}

// resolvedAt checks that the transitions since the last expect are exactly
// one resolution of id, at t0+at.
func (r *rig) resolvedAt(id string, at time.Duration) {
	r.t.Helper()
	tr := r.expect("resolved " + id)
	if got := tr[0].At.Sub(t0); got != at {
		r.t.Fatalf("%s resolved at +%s, want +%s", id, got, at)
	}
}

// TestThresholdClearWindowSurvivesRestart: pm25-out-of-range clears after
// readings at or under 1000 for 10 minutes. The readings fall at minute 1,
// ingest restarts at minute 7: the alert clears at minute 11, 10 minutes
// after they fell, not 10 minutes after the first reading after the
// restart. Acknowledging it and a maintenance window meanwhile move nothing.
func TestThresholdClearWindowSurvivesRestart(t *testing.T) {
	r := newRig(t, "pm25-out-of-range")
	r.send("aq-1", "telemetry", f("pm25", 1500))
	r.expect("raised pm25-out-of-range/aq-1")
	r.minutes(1, 4, "aq-1", f("pm25", 40))
	if _, err := r.e.Acknowledge("pm25-out-of-range/aq-1", "op", "", r.now); err != nil {
		t.Fatal(err)
	}
	if _, err := r.e.StartMaintenance(Maintenance{Target: "device:aq-1", By: "op"}, r.now); err != nil {
		t.Fatal(err)
	}
	r.minutes(5, 6, "aq-1", f("pm25", 40))
	r.restart(30 * time.Second)
	if _, err := r.e.EndMaintenance("device:aq-1", "op", r.now); err != nil {
		t.Fatal(err)
	}
	r.log = nil
	r.minutes(8, 10, "aq-1", f("pm25", 40))
	r.expect()
	r.at(11 * time.Minute) // the deadline fires between readings
	r.resolvedAt("pm25-out-of-range/aq-1", 11*time.Minute)

	// After a restart a reading over the line still breaks the window.
	r.at(30 * time.Minute)
	r.send("aq-1", "telemetry", f("pm25", 1500))
	r.expect("raised pm25-out-of-range/aq-1")
	r.minutes(31, 34, "aq-1", f("pm25", 40))
	r.restart(0)
	r.minutes(35, 36, "aq-1", f("pm25", 1200))
	r.minutes(37, 46, "aq-1", f("pm25", 40))
	r.expect()
	r.at(47 * time.Minute)
	r.resolvedAt("pm25-out-of-range/aq-1", 47*time.Minute)
}

// TestThresholdRaiseWindowSurvivesRestart: pm25-high raises after 5
// minutes over 150. The window opens at minute 0 and ingest restarts at
// minute 3: it raises at minute 5. A window whose deadline passed while
// ingest was down completes at the first reading that still holds; one
// broken by a reading after the restart raises nothing.
func TestThresholdRaiseWindowSurvivesRestart(t *testing.T) {
	r := newRig(t, "pm25-high")
	r.minutes(0, 2, "aq-1", f("pm25", 160))
	r.restart(30 * time.Second)
	r.minutes(4, 4, "aq-1", f("pm25", 170))
	r.expect()
	r.at(5 * time.Minute)
	tr := r.expect("raised pm25-high/aq-1")
	if !tr[0].At.Equal(t0.Add(5*time.Minute)) || tr[0].Alert.Value != 170.0 {
		t.Fatalf("raised at +%s with %v, want +5m with the last reading 170", tr[0].At.Sub(t0), tr[0].Alert.Value)
	}

	// Its clear window (under 120 for 5 minutes) opens at minute 10; down
	// from minute 12 to minute 20: the first reading after the restart
	// that still holds clears it, at once.
	r.minutes(10, 11, "aq-1", f("pm25", 100))
	r.restart(9 * time.Minute) // now +20m
	r.at(20*time.Minute + 30*time.Second)
	r.expect()
	r.send("aq-1", "telemetry", f("pm25", 90))
	r.resolvedAt("pm25-high/aq-1", 20*time.Minute+30*time.Second)

	// A raise window broken after the restart raises nothing.
	r.minutes(30, 32, "aq-1", f("pm25", 160))
	r.restart(0)
	r.minutes(33, 33, "aq-1", f("pm25", 100))
	r.at(40 * time.Minute)
	r.expect()
}

// TestStuckWindowSurvivesRestart: pm25-stuck raises after the same value
// for 3 hours. A restart in the middle keeps counting from the value's
// first reading, and a restart while it is raised does not clear it.
func TestStuckWindowSurvivesRestart(t *testing.T) {
	r := newRig(t, "pm25-stuck")
	every10 := func(from, to int) {
		for m := from; m <= to; m += 10 {
			r.at(time.Duration(m) * time.Minute)
			r.send("aq-1", "telemetry", f("pm25", 42))
		}
	}
	every10(0, 60)
	r.restart(5 * time.Minute)
	every10(70, 170)
	r.expect()
	r.at(180 * time.Minute)
	if tr := r.expect("raised pm25-stuck/aq-1"); !tr[0].At.Equal(t0.Add(3 * time.Hour)) {
		t.Fatalf("raised at +%s, want +3h", tr[0].At.Sub(t0))
	}
	r.restart(5 * time.Minute)
	every10(190, 200)
	r.expect()
	r.at(210 * time.Minute)
	r.send("aq-1", "telemetry", f("pm25", 43))
	r.resolvedAt("pm25-stuck/aq-1", 210*time.Minute)
}

// TestWindowWritesAreBounded: windows are handed out for saving when they
// open or close, not with each reading; a value that changes with every
// reading never opens a stuck window worth saving.
func TestWindowWritesAreBounded(t *testing.T) {
	r := newRig(t, "pm25-high", "pm25-stuck")
	changes := func(from, to int, v func(m int) float64) int {
		n := 0
		for m := from; m <= to; m++ {
			r.at(time.Duration(m) * time.Minute)
			r.send("aq-1", "telemetry", f("pm25", v(m)))
			n += len(r.e.WindowChanges())
		}
		return n
	}
	if n := changes(0, 59, func(m int) float64 { return float64(40 + m%7) }); n != 0 {
		t.Errorf("an hour of changing readings under the line: %d windows written, want 0", n)
	}
	// The raise window opens and closes: 2.
	over := func(m int) float64 { // over 150 for 4 minutes, then under
		if m < 64 {
			return 160 + float64(m)
		}
		return float64(m - 14)
	}
	if n := changes(60, 65, over); n != 2 {
		t.Errorf("a raise window opened and closed: %d windows written, want 2", n)
	}
	// The same value for an hour: the stuck window once, when it comes twice.
	if n := changes(66, 126, func(int) float64 { return 42 }); n != 1 {
		t.Errorf("an hour of one value: %d windows written, want 1", n)
	}
	if n := changes(127, 127, func(int) float64 { return 41 }); n != 1 {
		t.Errorf("the value changed: %d windows written, want 1 (the stuck window closed)", n)
	}
}

// TestRenotifySurvivesRestart: an unacknowledged critical alert is
// announced again every 15 minutes from its last announcement, across a
// restart; at once when that passed while ingest was down.
func TestRenotifySurvivesRestart(t *testing.T) {
	r := newRig(t, "device-offline")
	const nvr = "device-offline/nvr-1"
	r.at(2 * time.Minute)
	r.expect("raised device-offline/nvr-1", "raised device-offline/cam-1")
	if _, err := r.e.Acknowledge("device-offline/cam-1", "op", "", r.now); err != nil {
		t.Fatal(err)
	}
	r.at(10 * time.Minute)
	r.restart(time.Minute) // now +11m
	r.at(16*time.Minute + 59*time.Second)
	r.expectFor(nvr)
	r.at(17 * time.Minute) // 15 minutes after it was raised, not after the restart
	if tr := r.expectFor(nvr, "renotified device-offline/nvr-1"); !tr[0].At.Equal(t0.Add(17*time.Minute)) || !tr[0].Alert.NotifiedAt.Equal(t0.Add(17*time.Minute)) {
		t.Fatalf("renotified at +%s, notified_at %s", tr[0].At.Sub(t0), tr[0].Alert.NotifiedAt)
	}
	// Down from minute 20 to minute 40: overdue since minute 32, so at
	// once, and every 15 minutes from then.
	r.at(20 * time.Minute)
	r.restart(20 * time.Minute)
	r.at(40 * time.Minute)
	r.expectFor(nvr, "renotified device-offline/nvr-1")
	r.at(55 * time.Minute)
	r.expectFor(nvr, "renotified device-offline/nvr-1")
}

// TestSurfaceAfterSurvivesRestart: cam-1 is folded under its NVR's
// offline alert; the NVR comes back at minute 5 and cam-1, still offline,
// surfaces 30 seconds later across a restart in between, or at once when
// those 30 seconds passed while ingest was down.
func TestSurfaceAfterSurvivesRestart(t *testing.T) {
	for _, c := range []struct {
		down time.Duration
		want time.Duration
	}{{0, 5*time.Minute + 30*time.Second}, {time.Minute, 6*time.Minute + 10*time.Second}} {
		t.Run(fmt.Sprint("down ", c.down), func(t *testing.T) {
			r := newRig(t, "device-offline")
			r.at(2 * time.Minute)
			tr := r.expect("raised device-offline/nvr-1", "raised device-offline/cam-1")
			if tr[1].Alert.Parent != "device-offline/nvr-1" {
				t.Fatalf("cam-1 not folded: %+v", tr[1].Alert)
			}
			r.at(5 * time.Minute)
			r.send("nvr-1", "status", point.StringField("state", "online"))
			r.expect("resolved device-offline/nvr-1")
			r.at(5*time.Minute + 10*time.Second)
			r.restart(c.down)
			if c.down == 0 {
				r.at(c.want - time.Second)
				r.expect()
			}
			r.at(c.want)
			tr = r.expect("surfaced device-offline/cam-1")
			if !tr[0].At.Equal(t0.Add(c.want)) || tr[0].Alert.Parent != "" {
				t.Fatalf("surfaced at +%s under %q, want +%s on its own", tr[0].At.Sub(t0), tr[0].Alert.Parent, c.want)
			}
		})
	}
}

// TestSilenceAfterRestartOfADeviceThatCameBack: a device whose offline
// alert resolved shortly before a restart still goes offline one timeout
// after the start if it says nothing more.
func TestSilenceAfterRestartOfADeviceThatCameBack(t *testing.T) {
	r := newRig(t, "device-offline")
	r.at(2 * time.Minute)
	r.expect("raised device-offline/nvr-1", "raised device-offline/cam-1")
	r.at(3 * time.Minute)
	r.send("nvr-1", "status", point.StringField("state", "online"))
	r.send("cam-1", "status", point.StringField("state", "online"))
	r.expect("resolved device-offline/nvr-1", "resolved device-offline/cam-1")
	r.restart(0)
	r.at(5 * time.Minute)
	r.expect("reopened device-offline/nvr-1", "reopened device-offline/cam-1")
}

// TestMaintenanceEndingDuringRestart: a maintenance window that ended
// while ingest was down ends at the start, and its alerts are announced
// again and renotified from then.
func TestMaintenanceEndingDuringRestart(t *testing.T) {
	r := newRig(t, "device-offline")
	const nvr = "device-offline/nvr-1"
	if _, err := r.e.StartMaintenance(Maintenance{Target: "device:nvr-1", Until: t0.Add(10 * time.Minute), By: "op"}, r.now); err != nil {
		t.Fatal(err)
	}
	r.at(2 * time.Minute)
	if tr := r.expectFor(nvr, "raised "+nvr); !tr[0].Alert.Suppressed {
		t.Fatalf("not suppressed: %+v", tr[0].Alert)
	}
	r.at(5 * time.Minute)
	r.restart(10 * time.Minute) // now +15m, the window ended at +10m
	r.at(15 * time.Minute)
	r.expectFor(nvr, "unsuppressed "+nvr)
	if m := r.e.Maintenance(); len(m) != 0 {
		t.Fatalf("maintenance still open: %+v", m)
	}
	r.at(30 * time.Minute)
	r.expectFor(nvr, "renotified "+nvr)
}

// TestFlappingKeepsTheAcknowledgement: an acknowledged alert whose
// condition clears and comes back on its own within the flap window
// reopens still acknowledged, and is not announced again; one resolved by
// a person that comes back needs a new acknowledgement.
func TestFlappingKeepsTheAcknowledgement(t *testing.T) {
	r := newRig(t, "recorder-disk-full")
	r.send("nvr-1", "status", f("storage_pct", 95))
	r.expect("raised recorder-disk-full/nvr-1")
	if _, err := r.e.Acknowledge("recorder-disk-full/nvr-1", "op", "đã báo bảo trì", r.now); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		r.at(time.Duration(i) * time.Minute)
		r.send("nvr-1", "status", f("storage_pct", 80))
		r.expect("resolved recorder-disk-full/nvr-1")
		r.send("nvr-1", "status", f("storage_pct", 95))
		tr := r.expect("reopened recorder-disk-full/nvr-1")
		if a := tr[0].Alert; a.Flaps != i || a.Ack == nil || a.Ack.By != "op" || a.Ack.Note != "đã báo bảo trì" {
			t.Fatalf("flap %d: %+v ack %+v", i, a, a.Ack)
		}
	}
	if _, err := r.e.Resolve("recorder-disk-full/nvr-1", "tech", "đã dọn ổ cứng", r.now); err != nil {
		t.Fatal(err)
	}
	r.at(5 * time.Minute)
	r.send("nvr-1", "status", f("storage_pct", 80))
	r.send("nvr-1", "status", f("storage_pct", 95))
	if tr := r.expect("reopened recorder-disk-full/nvr-1"); tr[0].Alert.Ack != nil {
		t.Fatalf("back after a person resolved it, still acknowledged: %+v", tr[0].Alert.Ack)
	}
}

// sendStamped is send with the point stamped at the given time, not now.
func (r *rig) sendStamped(at time.Time, device, measurement string, fields ...point.Field) {
	d, _ := r.reg.Device(device)
	p := point.Point{Measurement: measurement, Fields: fields, Time: at}
	if measurement == "event" {
		p.SetTag("type", fields[0].S)
		p.Fields = fields[1:]
	}
	r.log = append(r.log, r.e.Observe(d, []point.Point{p}, r.now)...)
}

func TestOldDataRaisesAndClearsNothing(t *testing.T) {
	r := newRig(t, "device-offline", "camera-tamper", "recorder-disk-full")
	r.at(time.Minute)
	r.send("cam-1", "status", point.StringField("state", "online"))
	r.send("nvr-1", "status", f("storage_pct", 50))
	r.expect()
	// Nine days old: a tamper event, a full disk, an offline status.
	old := r.now.Add(-9 * 24 * time.Hour)
	r.sendStamped(old, "cam-1", "event", point.StringField("type", "tamper"))
	r.sendStamped(old, "nvr-1", "status", f("storage_pct", 99))
	r.sendStamped(old, "cam-1", "status", point.StringField("state", "offline"))
	r.expect()
	// Just inside the default 10 minutes: raised as ever.
	r.sendStamped(r.now.Add(-9*time.Minute), "cam-1", "event", point.StringField("type", "tamper"))
	r.sendStamped(r.now.Add(-9*time.Minute), "nvr-1", "status", f("storage_pct", 99))
	r.expect("raised camera-tamper/cam-1", "raised recorder-disk-full/nvr-1")
	// An old reading does not clear it either.
	r.sendStamped(old, "nvr-1", "status", f("storage_pct", 10))
	r.expect()
	if !r.e.TooOld(old, r.now) || r.e.TooOld(r.now.Add(-9*time.Minute), r.now) {
		t.Fatal("TooOld disagrees with the 10-minute default")
	}
}
