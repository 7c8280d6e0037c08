package alert

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/registry"
)

// provinceRig: district d1 has nvr-1 with cameras cam-1..cam-4 and six
// streetlights sl-0..sl-5 (2 hour timeout); district d2
// has ten sensors aq-0..aq-9 (15 minute timeout).
func provinceRig(t *testing.T) *rig {
	t.Helper()
	f := registry.File{
		Districts:   []registry.District{{ID: "d1", Name: "Thành phố"}, {ID: "d2", Name: "Đại Từ"}},
		Integrators: []registry.Integrator{{ID: "acme", Name: "A"}},
		Devices:     []registry.Device{{ID: "nvr-1", Kind: registry.NVR, Name: "Đầu ghi 1", District: "d1", Integrator: "acme"}},
	}
	for i := 1; i <= 4; i++ {
		f.Devices = append(f.Devices, registry.Device{ID: fmt.Sprintf("cam-%d", i), Kind: registry.Camera, Name: fmt.Sprintf("Camera %d", i), District: "d1", Integrator: "acme", Parent: "nvr-1"})
	}
	// Streetlights that report hourly: d1 is not just the recorder.
	for i := range 6 {
		f.Devices = append(f.Devices, registry.Device{ID: fmt.Sprintf("sl-%d", i), Kind: registry.Sensor, Name: fmt.Sprintf("Đèn %d", i), District: "d1", Integrator: "acme", Timeout: 2 * time.Hour})
	}
	for i := range 10 {
		f.Devices = append(f.Devices, registry.Device{ID: fmt.Sprintf("aq-%d", i), Kind: registry.Sensor, Name: fmt.Sprintf("Trạm %d", i), District: "d2", Integrator: "acme"})
	}
	reg, err := registry.New(f)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := LoadRules("../../configs/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, e: NewEngine(rules, reg, Options{}), reg: reg, now: t0}
	r.e.Start(t0)
	return r
}

func (r *rig) alert(id string) Alert {
	r.t.Helper()
	a, ok := r.e.Alert(id)
	if !ok {
		r.t.Fatalf("no alert %s", id)
	}
	return a
}

func (r *rig) sendAll(ids ...string) {
	for _, id := range ids {
		r.send(id, "status", point.StringField("state", "online"))
	}
}

func TestNVROutageFoldsCamerasAndSurfacesTheStragglers(t *testing.T) {
	r := provinceRig(t)
	r.sendAll("aq-0", "aq-1", "aq-2", "aq-3", "aq-4", "aq-5", "aq-6", "aq-7", "aq-8", "aq-9")
	// The recorder and its cameras fall silent together: the recorder's
	// alert comes first and the cameras' fold under it.
	r.at(2 * time.Minute)
	r.expect("raised device-offline/nvr-1", "raised device-offline/cam-1", "raised device-offline/cam-2",
		"raised device-offline/cam-3", "raised device-offline/cam-4")
	for i := 1; i <= 4; i++ {
		if a := r.alert(fmt.Sprintf("device-offline/cam-%d", i)); a.Parent != "device-offline/nvr-1" {
			t.Fatalf("cam-%d parent %q", i, a.Parent)
		}
	}
	if a := r.alert("device-offline/nvr-1"); a.Parent != "" {
		t.Fatalf("nvr parent %q", a.Parent)
	}
	// The recorder comes back with three cameras; cam-2 stays down and
	// surfaces on its own once the others had their chance.
	r.at(3 * time.Minute)
	r.sendAll("nvr-1", "cam-1", "cam-3", "cam-4")
	r.expect("resolved device-offline/nvr-1", "resolved device-offline/cam-1", "resolved device-offline/cam-3", "resolved device-offline/cam-4")
	r.at(3*time.Minute + 30*time.Second)
	tr := r.expect("surfaced device-offline/cam-2")
	if tr[0].Alert.Parent != "" || tr[0].Alert.State != Active {
		t.Fatalf("%+v", tr[0].Alert)
	}

	// A camera already offline folds under its recorder when the recorder
	// goes down later.
	r.at(4 * time.Minute)
	r.sendAll("cam-1", "cam-3", "cam-4")
	r.send("nvr-1", "status", point.StringField("state", "offline")) // its last will
	r.expect("reopened device-offline/nvr-1", "folded device-offline/cam-2")
}

func TestMassSilenceRaisesOneDistrictAlert(t *testing.T) {
	r := provinceRig(t)
	r.at(time.Minute)
	r.sendAll("nvr-1", "cam-1", "cam-2", "cam-3", "cam-4")
	// d2's ten sensors fall silent at once (a power cut): one district
	// alert first, every sensor's alert under it.
	r.at(15 * time.Minute)
	var want []string
	want = append(want, "raised device-offline/district:d2")
	for i := range 10 {
		want = append(want, fmt.Sprintf("raised device-offline/aq-%d", i))
	}
	// d1's devices, silent since minute 1, come after at minute 3.
	tr := r.expect(append([]string{
		"raised device-offline/nvr-1", "raised device-offline/cam-1", "raised device-offline/cam-2",
		"raised device-offline/cam-3", "raised device-offline/cam-4"}, want...)...)
	d := tr[5].Alert
	if d.Value != "10/10" || d.Severity != Critical || d.Message["vi"] != "Mất kết nối diện rộng tại Đại Từ: 10/10 thiết bị" || !d.IsDistrict() {
		t.Fatalf("district alert %+v", d)
	}
	for _, x := range tr[6:] {
		if x.Alert.Parent != "device-offline/district:d2" {
			t.Fatalf("%s parent %q", x.Alert.ID, x.Alert.Parent)
		}
	}
	// d1's recorder outage is 5 of its 11 devices: no district alert.
	if a := r.alert("device-offline/cam-1"); a.Parent != "device-offline/nvr-1" {
		t.Fatalf("cam-1 parent %q", a.Parent)
	}
	// Power returns to most of d2: the district alert clears when fewer
	// than half the outage count remain (2 of 10), and the two still down
	// surface.
	// Each return updates the district alert's count and message, so the
	// wall never shows the count at raise time ("10/10") against a table
	// that says 4.
	r.at(16 * time.Minute)
	r.sendAll("aq-0", "aq-1", "aq-2", "aq-3", "aq-4", "aq-5")
	var back []string
	for i := range 6 {
		back = append(back, fmt.Sprintf("resolved device-offline/aq-%d", i), "updated device-offline/district:d2")
	}
	r.expect(back...)
	if a := r.alert("device-offline/district:d2"); a.State != Active || a.Value != "4/10" || a.Message["vi"] != "Mất kết nối diện rộng tại Đại Từ: 4/10 thiết bị" {
		t.Fatalf("district %+v", a)
	}
	r.sendAll("aq-6", "aq-7")
	r.expect("resolved device-offline/aq-6", "updated device-offline/district:d2", "resolved device-offline/aq-7", "resolved device-offline/district:d2")
	r.at(16*time.Minute + 30*time.Second)
	r.expect("surfaced device-offline/aq-8", "surfaced device-offline/aq-9")
}

func TestMaintenanceSuppressesAndMarks(t *testing.T) {
	r := newRig(t, "camera-tamper", "device-offline")
	if _, err := r.e.StartMaintenance(Maintenance{Target: "device:nope", By: "op"}, r.now); err == nil {
		t.Fatal("maintenance of an unknown device accepted")
	}
	if _, err := r.e.StartMaintenance(Maintenance{Target: "cam-1", By: "op"}, r.now); err == nil {
		t.Fatal("maintenance target without device: accepted")
	}
	tr, err := r.e.StartMaintenance(Maintenance{Target: "device:cam-1", By: "tech1", Note: "thay ống kính", Until: t0.Add(time.Hour)}, r.now)
	if err != nil || len(tr) != 1 || tr[0].Kind != MaintenanceStarted || tr[0].Maintenance.Note != "thay ống kính" {
		t.Fatalf("%v %+v", err, tr)
	}
	// Raised while in maintenance: kept and marked, never announced.
	r.send("cam-1", "event", point.StringField("type", "tamper"))
	if tr := r.expect("raised camera-tamper/cam-1"); !tr[0].Alert.Suppressed {
		t.Fatalf("not marked suppressed: %+v", tr[0].Alert)
	}
	r.send("cam-1", "status", point.StringField("state", "offline"))
	r.expect("raised device-offline/cam-1")
	r.at(2 * time.Minute)
	r.expect("raised device-offline/nvr-1", "folded device-offline/cam-1")
	// Critical alerts re-notify every 15 minutes; the suppressed ones do not.
	r.at(17 * time.Minute)
	r.expect("resolved camera-tamper/cam-1", "raised device-offline/aq-1", "renotified device-offline/nvr-1")
	// The window ends on its own at its hour: cam-1 is still offline, and
	// is announced from then on.
	r.at(60 * time.Minute)
	r.expect("renotified device-offline/aq-1", "renotified device-offline/nvr-1", "renotified device-offline/aq-1",
		"renotified device-offline/nvr-1", "maintenance_ended ", "unsuppressed device-offline/cam-1",
		"renotified device-offline/aq-1", "raised device-offline/wl-1")
	r.at(75 * time.Minute)
	r.expect("renotified device-offline/nvr-1", "renotified device-offline/aq-1", "renotified device-offline/cam-1", "renotified device-offline/wl-1")
	// A district window suppresses alerts already active (the four
	// offline devices of d1), and ends by hand.
	tr, err = r.e.StartMaintenance(Maintenance{Target: "district:d1", By: "op"}, r.now)
	if err != nil || len(tr) != 5 || tr[1].Kind != Suppressed {
		t.Fatalf("%v %+v", err, tr)
	}
	if got := r.e.Maintenance(); len(got) != 1 || got[0].Target != "district:d1" || !got[0].Since.Equal(r.now) {
		t.Fatalf("%+v", got)
	}
	if tr, err := r.e.EndMaintenance("district:d1", "op", r.now); err != nil || len(tr) != 5 || tr[4].Kind != Unsuppressed {
		t.Fatalf("%v %+v", err, tr)
	}
}

func TestReconfigureKeepsState(t *testing.T) {
	r := newRig(t, "pm25-high", "recorder-disk-full", "camera-tamper")
	r.send("aq-1", "telemetry", f("pm25", 200))
	r.send("nvr-1", "status", f("storage_pct", 95))
	r.send("cam-1", "event", point.StringField("type", "tamper"))
	r.expect("raised recorder-disk-full/nvr-1", "raised camera-tamper/cam-1")
	if _, err := r.e.Acknowledge("recorder-disk-full/nvr-1", "op", "", r.now); err != nil {
		t.Fatal(err)
	}
	// New rules: pm25 and the recorder rule stay (pm25's threshold
	// changed), tamper is gone, a silence rule is new.
	rules, err := ParseRules([]byte(`
rules:
  - {id: pm25-high, kind: threshold, severity: major, field: pm25, raise: {op: ">", value: 180, for: 5m}, message: {vi: a, en: b}}
  - {id: recorder-disk-full, kind: threshold, severity: major, measurement: status, field: storage_pct, raise: {op: ">", value: 90}, clear: {op: "<", value: 85}, message: {vi: a, en: b}}
  - {id: device-offline, kind: silence, severity: critical, measurement: any, timeouts: {camera: 2m, nvr: 2m, sensor: 15m}, message: {vi: a, en: b}}
`))
	if err != nil {
		t.Fatal(err)
	}
	r.at(time.Minute)
	r.log = append(r.log, r.e.Reconfigure(rules, nil, r.now)...)
	tr := r.expect("resolved camera-tamper/cam-1")
	if tr[0].Alert.ResolvedBy != "config" {
		t.Fatalf("%+v", tr[0].Alert)
	}
	if a := r.alert("recorder-disk-full/nvr-1"); a.State != Active || a.Ack == nil || a.Ack.By != "op" {
		t.Fatalf("acknowledged alert lost its state: %+v", a)
	}
	// The new silence rule counts from the reload.
	r.at(3*time.Minute - 1)
	r.expect()
	r.at(3 * time.Minute)
	r.expect("raised device-offline/nvr-1", "raised device-offline/cam-1")
	// pm25 kept counting from minute 0 under the new rule: raised at 5m.
	r.at(5 * time.Minute)
	r.expect("raised pm25-high/aq-1")
}

func TestRestoreKeepsActiveAlertsAndAcks(t *testing.T) {
	r := newRig(t)
	r.send("cam-1", "event", point.StringField("type", "intrusion"))
	r.at(2 * time.Minute)
	r.expect("raised camera-tamper/cam-1", "raised device-offline/nvr-1", "raised device-offline/cam-1")
	if _, err := r.e.Acknowledge("device-offline/nvr-1", "op", "đang xử lý", r.now); err != nil {
		t.Fatal(err)
	}
	if _, err := r.e.StartMaintenance(Maintenance{Target: "device:aq-1", By: "op"}, r.now); err != nil {
		t.Fatal(err)
	}
	saved, maint := r.e.Alerts(), r.e.Maintenance()

	// A new engine, as after a restart: the same alerts, no re-raise.
	e2 := NewEngine(r.e.rules, r.reg, Options{})
	if skipped := e2.Restore(saved, maint, r.now); len(skipped) != 0 {
		t.Fatalf("skipped %v", skipped)
	}
	e2.Start(r.now)
	r.e, r.log = e2, nil
	got := e2.Active()
	if len(got) != 3 || got[0].ID != "camera-tamper/cam-1" {
		t.Fatalf("%+v", got)
	}
	if a := r.alert("device-offline/nvr-1"); a.Ack == nil || a.Ack.Note != "đang xử lý" || !a.RaisedAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("%+v", a)
	}
	if len(e2.Maintenance()) != 1 {
		t.Fatalf("maintenance lost: %+v", e2.Maintenance())
	}
	r.at(10 * time.Minute)
	r.expect()
	// The tamper event still clears 15 minutes after it came; the recorder
	// clears when it reports.
	r.at(17 * time.Minute)
	// cam-1, folded under the acknowledged recorder, was acknowledged with
	// it (and kept that across the restart): it is not announced again.
	r.expect("resolved camera-tamper/cam-1", "raised device-offline/aq-1")
	if a := r.alert("device-offline/cam-1"); a.Ack == nil || a.Ack.Via != "device-offline/nvr-1" {
		t.Fatalf("cam-1 ack %+v", a.Ack)
	}
	if a := r.alert("device-offline/aq-1"); !a.Suppressed {
		t.Fatal("restored maintenance not applied")
	}
	r.send("nvr-1", "status", point.StringField("state", "online"))
	r.expect("resolved device-offline/nvr-1")
	if s := strings.Join(activeIDs(e2), " "); s != "device-offline/cam-1 device-offline/aq-1" {
		t.Fatalf("active %s", s)
	}
}

func activeIDs(e *Engine) []string {
	var out []string
	for _, a := range e.Active() {
		out = append(out, a.ID)
	}
	return out
}

func TestStuckSensor(t *testing.T) {
	rules, err := ParseRules([]byte(`
rules:
  - {id: pm25-stuck, kind: stuck, severity: minor, scope: {kinds: [sensor]}, field: pm25, for: 1h, message: {vi: "{{.Device.Name}} báo mãi {{.Value}}", en: "{{.Device.Name}} stuck at {{.Value}}"}}
`))
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t)
	r.e = NewEngine(rules, r.reg, Options{})
	r.e.Start(t0)
	for i := range 7 { // the same 42 every 10 minutes: stuck at the hour
		r.at(time.Duration(i*10) * time.Minute)
		r.send("aq-1", "telemetry", f("pm25", 42))
		r.send("wl-1", "telemetry", f("pm25", float64(40+i%2)))
	}
	tr := r.expect("raised pm25-stuck/aq-1")
	if !tr[0].At.Equal(t0.Add(time.Hour)) || tr[0].Alert.Message["en"] != "Trạm 1 stuck at 42" {
		t.Fatalf("%+v", tr[0])
	}
	r.at(70 * time.Minute)
	r.send("aq-1", "telemetry", f("pm25", 43))
	r.expect("resolved pm25-stuck/aq-1")
	// The deadline fires between readings, as a timer would.
	r.at(130 * time.Minute)
	r.expect("raised pm25-stuck/wl-1", "raised pm25-stuck/aq-1") // wl-1 has said 40 since minute 60
}

// TestAcknowledgingAParentAcknowledgesItsChildren: the recorder's card on
// the wall stands for its cameras; acknowledging it acknowledges them,
// each with its own transition naming the recorder's alert (Ack.Via), so
// the tiles and the history agree. A district's acknowledgement reaches
// the cameras under the recorder under it. An alert already acknowledged
// keeps its own acknowledgement.
func TestAcknowledgingAParentAcknowledgesItsChildren(t *testing.T) {
	r := provinceRig(t)
	r.sendAll("aq-0", "aq-1", "aq-2", "aq-3", "aq-4", "aq-5", "aq-6", "aq-7", "aq-8", "aq-9")
	r.at(2 * time.Minute)
	r.expect("raised device-offline/nvr-1", "raised device-offline/cam-1", "raised device-offline/cam-2",
		"raised device-offline/cam-3", "raised device-offline/cam-4")
	if _, err := r.e.Acknowledge("device-offline/cam-2", "op2", "", r.now); err != nil {
		t.Fatal(err)
	}
	trs, err := r.e.Acknowledge("device-offline/nvr-1", "op", "đã báo điện lực", r.now)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tr := range trs {
		got = append(got, string(tr.Kind)+" "+tr.Alert.ID)
		if tr.Kind != Acked || tr.By != "op" || tr.Alert.Ack == nil || tr.Alert.Ack.By != "op" || tr.Alert.Ack.Note != "đã báo điện lực" {
			t.Errorf("%s: %+v %+v", tr.Alert.ID, tr, tr.Alert.Ack)
		}
		if tr.Alert.ID != "device-offline/nvr-1" && tr.Alert.Ack.Via != "device-offline/nvr-1" {
			t.Errorf("%s: via %q", tr.Alert.ID, tr.Alert.Ack.Via)
		}
	}
	if want := "acked device-offline/nvr-1,acked device-offline/cam-1,acked device-offline/cam-3,acked device-offline/cam-4"; strings.Join(got, ",") != want {
		t.Fatalf("transitions %s\nwant %s", strings.Join(got, ","), want)
	}
	if a := r.alert("device-offline/cam-2"); a.Ack.By != "op2" || a.Ack.Via != "" {
		t.Fatalf("cam-2 kept its own ack? %+v", a.Ack)
	}
	for _, a := range r.e.Active() {
		if a.Ack == nil {
			t.Errorf("%s unacknowledged after its recorder's acknowledgement", a.ID)
		}
	}
}

// TestAcknowledgingADistrictReachesEveryLevel: a district outage with a
// recorder and its cameras under it; acknowledging the district reaches
// the cameras under the recorder.
func TestAcknowledgingADistrictReachesEveryLevel(t *testing.T) {
	r := provinceRig(t)
	r.sendAll("aq-0", "aq-1", "aq-2", "aq-3", "aq-4", "aq-5", "aq-6", "aq-7", "aq-8", "aq-9")
	r.at(2 * time.Hour) // all of d1 (recorder, cameras, lights) is silent
	r.log = nil
	if _, ok := r.e.Alert("device-offline/district:d1"); !ok {
		t.Fatal("no district alert for d1")
	}
	if a := r.alert("device-offline/cam-1"); a.Parent != "device-offline/nvr-1" {
		t.Fatalf("cam-1 parent %q", a.Parent)
	}
	trs, err := r.e.Acknowledge("device-offline/district:d1", "op", "", r.now)
	if err != nil {
		t.Fatal(err)
	}
	if len(trs) != 1+1+4+6 {
		t.Errorf("%d transitions; want the district, the recorder, 4 cameras and 6 lights", len(trs))
	}
	for _, a := range r.e.Active() {
		if a.District == "d1" && (a.Ack == nil || (a.ID != "device-offline/district:d1" && a.Ack.Via != "device-offline/district:d1")) {
			t.Errorf("%s: ack %+v", a.ID, a.Ack)
		}
	}
}

// TestReopenFoldsOnlyOfflineAlerts: a threshold rule covering a recorder
// and its cameras raises each its own alert; when the recorder's reopens
// within the flap window it must not take the camera's under it (only
// offline alerts fold under a parent): the camera's stays on the wall and
// acknowledging the recorder leaves it unacknowledged.
func TestReopenFoldsOnlyOfflineAlerts(t *testing.T) {
	r := provinceRig(t)
	rules, err := ParseRules([]byte(`
rules:
  - {id: hot, kind: threshold, severity: major, scope: {kinds: [nvr, camera]}, measurement: status, field: temp_c, raise: {op: ">", value: 70}, clear: {op: "<", value: 60}, message: {vi: a, en: b}}
`))
	if err != nil {
		t.Fatal(err)
	}
	r.e = NewEngine(rules, r.reg, Options{})
	r.e.Start(r.now)
	f := point.FloatField
	r.send("nvr-1", "status", f("temp_c", 80))
	r.expect("raised hot/nvr-1")
	r.send("nvr-1", "status", f("temp_c", 50))
	r.expect("resolved hot/nvr-1")
	r.send("cam-1", "status", f("temp_c", 80))
	r.expect("raised hot/cam-1")
	r.send("nvr-1", "status", f("temp_c", 80))
	r.expect("reopened hot/nvr-1")
	if a := r.alert("hot/cam-1"); a.Parent != "" {
		t.Fatalf("the camera's overheating folded under the recorder's reopened alert: parent %q", a.Parent)
	}
	if _, err := r.e.Acknowledge("hot/nvr-1", "op", "", r.now); err != nil {
		t.Fatal(err)
	}
	if a := r.alert("hot/cam-1"); a.Ack != nil {
		t.Fatalf("acknowledging the recorder acknowledged the camera's own alert: %+v", a.Ack)
	}
}
