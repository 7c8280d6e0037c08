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
