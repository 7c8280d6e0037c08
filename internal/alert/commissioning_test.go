package alert

import (
	"slices"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/registry"
)

// commissioningRig: cam-new is registered before it is installed.
func commissioningRig(t *testing.T) *rig {
	t.Helper()
	reg, err := registry.New(registry.File{
		Districts:   []registry.District{{ID: "d1", Name: "D1"}},
		Integrators: []registry.Integrator{{ID: "acme", Name: "A"}},
		Devices: []registry.Device{
			{ID: "cam-old", Kind: registry.Camera, Name: "Camera cũ", District: "d1", Integrator: "acme"},
			{ID: "cam-new", Kind: registry.Camera, Name: "Camera mới", District: "d1", Integrator: "acme", Commissioning: true},
			{ID: "cam-later", Kind: registry.Camera, Name: "Camera sau", District: "d1", Integrator: "acme", Commissioning: true},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	rules, err := LoadRules("../../configs/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, e: NewEngine(rules, reg, Options{}), reg: reg, now: t0}
	r.e.Start(t0)
	// The installed camera that never reported goes offline two minutes
	// in; acknowledged, so that it is not announced again.
	r.at(2 * time.Minute)
	r.expect("raised device-offline/cam-old")
	if _, err := r.e.Acknowledge("device-offline/cam-old", "op", "", r.now); err != nil {
		t.Fatal(err)
	}
	r.log = nil
	return r
}

func TestCommissioningDeviceWaitsForItsFirstMessage(t *testing.T) {
	r := commissioningRig(t)
	if got := r.e.CommissioningDevices(); !slices.Equal(got, []string{"cam-later", "cam-new"}) {
		t.Fatalf("commissioning %v", got)
	}
	// The two not yet installed do not go offline, however long they
	// stay silent.
	r.at(3 * 24 * time.Hour)
	r.expect()

	// Its first message makes cam-new live; silent again, it goes offline
	// one timeout later like any camera.
	r.send("cam-new", "status", point.StringField("state", "online"))
	if got := r.e.TakeCommissioned(); !slices.Equal(got, []string{"cam-new"}) {
		t.Fatalf("went live %v, want [cam-new]", got)
	}
	if r.e.Commissioning("cam-new") || !r.e.Commissioning("cam-later") {
		t.Fatal("commissioning state after the first message")
	}
	r.at(3*24*time.Hour + 2*time.Minute)
	r.expect("raised device-offline/cam-new")

	// A restart keeps it live (the service saves TakeCommissioned): the
	// new engine watches it, and still not cam-later.
	e2 := NewEngine(r.e.rules, r.reg, Options{})
	e2.Restore(r.e.Alerts(), r.e.Maintenance(), r.now)
	e2.RestoreLive([]string{"cam-new"})
	e2.Start(r.now)
	r.e = e2
	if r.e.Commissioning("cam-new") || !r.e.Commissioning("cam-later") {
		t.Fatal("commissioning state after a restart")
	}
	r.send("cam-new", "status", point.StringField("state", "online"))
	r.expect("resolved device-offline/cam-new")
	if got := r.e.TakeCommissioned(); len(got) != 0 {
		t.Fatalf("a live device went live again: %v", got)
	}
	r.at(3*24*time.Hour + 4*time.Minute + time.Second)
	r.expect("reopened device-offline/cam-new") // within the flap window
}

func TestCommissionByHand(t *testing.T) {
	r := commissioningRig(t)
	r.at(time.Hour)
	r.expect()
	if err := r.e.Commission("cam-old", r.now); err == nil {
		t.Fatal("commissioned a device that is not commissioning")
	}
	if err := r.e.Commission("nope", r.now); err == nil {
		t.Fatal("commissioned an unknown device")
	}
	// The operator says cam-later is installed: watched from now on.
	if err := r.e.Commission("cam-later", r.now); err != nil {
		t.Fatal(err)
	}
	if got := r.e.TakeCommissioned(); !slices.Equal(got, []string{"cam-later"}) {
		t.Fatalf("went live %v", got)
	}
	r.at(time.Hour + 2*time.Minute)
	r.expect("raised device-offline/cam-later")
}

func TestRegistryDroppingCommissioningArmsTheDevice(t *testing.T) {
	r := commissioningRig(t)
	f := registry.File{
		Districts:   []registry.District{{ID: "d1", Name: "D1"}},
		Integrators: []registry.Integrator{{ID: "acme", Name: "A"}},
	}
	for _, d := range r.reg.Devices() {
		dd := *d
		dd.Commissioning = false
		f.Devices = append(f.Devices, dd)
	}
	reg, err := registry.New(f)
	if err != nil {
		t.Fatal(err)
	}
	r.reg = reg
	r.log = append(r.log, r.e.Reconfigure(nil, reg, r.now)...)
	r.expect()
	r.at(4 * time.Minute)
	r.expect("raised device-offline/cam-later", "raised device-offline/cam-new")
}
