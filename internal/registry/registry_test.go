package registry

import (
	"strings"
	"testing"

	"github.com/ioc-vn/ioc/internal/point"
)

func TestSampleProvinceLoads(t *testing.T) {
	r, err := Load("../../configs/devices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cam, ok := r.Device("cam-bvtw-01")
	if !ok {
		t.Fatal("cam-bvtw-01 missing")
	}
	want := []point.Tag{
		{Key: "device", Value: "cam-bvtw-01"},
		{Key: "district", Value: "tp-thai-nguyen"},
		{Key: "integrator", Value: "vms-tn"},
		{Key: "kind", Value: "camera"},
		{Key: "name", Value: "Camera BVTW 01"},
		{Key: "parent", Value: "nvr-bvtw"},
	}
	got := cam.Tags()
	if len(got) != len(want) {
		t.Fatalf("tags %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("tags %v, want %v", got, want)
		}
	}
	if cam.Profile == nil || cam.Profile.FPS != 25 {
		t.Fatalf("camera profile not loaded: %+v", cam.Profile)
	}
	if r.Province() != "Thái Nguyên" || r.Len() < 30 {
		t.Fatalf("province %q with %d devices", r.Province(), r.Len())
	}
	if d, _ := r.District("dinh-hoa"); d.Name != "Huyện Định Hóa" {
		t.Fatalf("district name %q", d.Name)
	}
}

func TestParseRefuses(t *testing.T) {
	const head = "districts: [{id: d1, name: D}]\nintegrators: [{id: acme, name: A}]\n"
	f := func(yaml, want string) {
		t.Helper()
		_, err := Parse([]byte(head + yaml))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Parse(%q) error %v, want it to contain %q", yaml, err, want)
		}
	}
	f("devices: [{id: a, kind: camera, name: A, district: d1, integrator: acme, colour: red}]", "field colour not found")
	f("devices: [{id: a/b, kind: camera, name: A, district: d1, integrator: acme}]", `id "a/b"`)
	f("devices: [{id: a+, kind: camera, name: A, district: d1, integrator: acme}]", `id "a+"`)
	f("devices: [{id: a, kind: toaster, name: A, district: d1, integrator: acme}]", `kind "toaster"`)
	f("devices: [{id: a, kind: camera, name: A, district: nowhere, integrator: acme}]", `district "nowhere"`)
	f("devices: [{id: a, kind: camera, name: A, district: d1, integrator: other}]", `integrator "other"`)
	f("devices: [{id: a, kind: camera, name: A, district: d1, integrator: acme, parent: b}]", `parent "b" is not a registered`)
	f("devices: [{id: a, kind: camera, name: A, district: d1, integrator: acme, parent: b}, {id: b, kind: sensor, name: B, district: d1, integrator: acme}]", "parents are nvr or gateway")
	f("devices: [{id: a, kind: camera, name: A, district: d1, integrator: acme}, {id: a, kind: camera, name: A, district: d1, integrator: acme}]", `"a" listed twice`)
	f("devices: [{id: a, kind: camera, name: A, district: d1, integrator: acme, lat: 91}]", "coordinates")
	f("devices: [{id: a, kind: camera, district: d1, integrator: acme}]", "name is empty")
	f("devices: [{id: a, kind: camera, name: A, district: d1, integrator: acme, timeout: 5x}]", "line 3")

	_, err := Parse([]byte("integrators: [{id: Bad/One}]"))
	if err == nil || !strings.Contains(err.Error(), `integrator id "Bad/One"`) {
		t.Fatalf("bad integrator id accepted: %v", err)
	}
}

func TestFieldDeclarations(t *testing.T) {
	r, err := Parse([]byte(`districts: [{id: d1, name: D}]
integrators: [{id: acme, name: A}]
fields:
  sensor:
    telemetry:
      pm25: {type: float, unit: µg/m³}
      trend: string
  camera:
    telemetry:
      pm25: {type: float, unit: µg/m³}
`))
	if err != nil {
		t.Fatal(err)
	}
	f := func(k Kind, m, field string, wantType FieldType, wantForKind, wantDeclared bool) {
		t.Helper()
		d, forKind, declared := r.Field(k, m, field)
		if d.Type != wantType || forKind != wantForKind || declared != wantDeclared {
			t.Fatalf("Field(%s, %s, %s) = %s %v %v; want %s %v %v", k, m, field, d.Type, forKind, declared, wantType, wantForKind, wantDeclared)
		}
	}
	f(Sensor, "telemetry", "pm25", Float, true, true)
	f(Camera, "telemetry", "pm25", Float, true, true)
	f(Sensor, "telemetry", "trend", String, true, true)
	f(Camera, "telemetry", "trend", String, false, true)
	f(Sensor, "telemetry", "co2_ppm", "", false, false)
	f(Sensor, "river", "pm25", "", false, false)
	if d, _, _ := r.Field(Sensor, "telemetry", "pm25"); d.Unit != "µg/m³" || len(d.Kinds) != 2 || d.Line != 6 {
		t.Fatalf("pm25 declaration %+v", d)
	}
}

func TestFieldDeclarationsRefused(t *testing.T) {
	const head = "districts: [{id: d1, name: D}]\nintegrators: [{id: acme, name: A}]\nfields:\n"
	f := func(yaml, want string) {
		t.Helper()
		_, err := Parse([]byte(head + yaml))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Parse(%q) error %v, want it to contain %q", yaml, err, want)
		}
	}
	// One measurement's field is typed alike for every kind: the store
	// types it per measurement for all devices.
	f("  sensor:\n    telemetry:\n      co2: float\n  camera:\n    telemetry:\n      co2: string\n",
		"line 9: fields.camera.telemetry.co2: string disagrees with line 6 fields.sensor.telemetry.co2: float")
	f("  sensor:\n    telemetry:\n      t: {type: float, unit: °C}\n  nvr:\n    telemetry:\n      t: {type: float, unit: °F}\n",
		"line 9: fields.nvr.telemetry.t: float (°F) disagrees with line 6 fields.sensor.telemetry.t: float (°C)")
	f("  sensor:\n    telemetry:\n      x: double\n", `line 6: fields.sensor.telemetry.x: type "double"`)
	f("  sensor:\n    telemetry:\n      x: {type: string, unit: cm}\n", "a string has no unit")
	f("  toaster:\n    telemetry:\n      x: float\n", `kind "toaster"`)
	f("  sensor:\n    alert:\n      x: float\n", `measurement "alert" cannot be declared`)
	f("  sensor:\n    telemetry:\n      device: string\n", `"device" is not a field name`)
	f("  camera:\n    status:\n      recording: string\n", "fixed by the status channel's checks as bool")
	f("  camera:\n    event:\n      count: int\n", "fixed by the event channel's checks as float")
	f("  camera:\n    event:\n      zone: {type: string, colour: red}\n", "field colour not found")
}

// TestRetiredDevices: a retired device stays in the file and is found by
// Lookup (its history, its account), but is not in service: not in
// Device, Devices or Len. A retired recorder may still be its cameras'
// parent.
func TestRetiredDevices(t *testing.T) {
	r, err := Parse([]byte(`
province: P
districts: [{id: d1, name: D1}]
integrators: [{id: acme, name: Acme}]
devices:
  - {id: nvr-1, kind: nvr, name: NVR 1, district: d1, integrator: acme, lat: 21, lon: 105, retired: 2026-11-01T03:00:00Z}
  - {id: cam-1, kind: camera, parent: nvr-1, name: Cam 1, district: d1, integrator: acme, lat: 21, lon: 105}
  - {id: cam-2, kind: camera, parent: nvr-1, name: Cam 2, district: d1, integrator: acme, lat: 21, lon: 105, retired: 2026-11-02T03:00:00Z}
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Device("nvr-1"); ok {
		t.Error("Device answers a retired recorder")
	}
	d, ok := r.Lookup("cam-2")
	if !ok || d.Retired == nil || d.Retired.Format("2006-01-02T15") != "2026-11-02T03" {
		t.Errorf("Lookup(cam-2) = %+v, %v; want it retired on 2026-11-02 03:00Z", d, ok)
	}
	if r.Len() != 1 || len(r.Devices()) != 1 || r.Devices()[0].ID != "cam-1" {
		t.Errorf("in service: %d %v, want only cam-1", r.Len(), r.Devices())
	}
	var retired []string
	for _, d := range r.Retired() {
		retired = append(retired, d.ID)
	}
	if strings.Join(retired, ",") != "nvr-1,cam-2" {
		t.Errorf("Retired() = %v, want nvr-1, cam-2 in file order", retired)
	}
}
