package ingestd_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/testenv"
)

const commissioningRegistry = `
province: Test
districts: [{id: d2, name: "Quận 2"}]
integrators: [{id: envsense, name: Env}, {id: vms-tn, name: VMS}, {id: smartcity-tn, name: City}]
devices:
  - {id: aq-1, kind: sensor, name: "Trạm 1", district: d2, integrator: envsense, commissioning: true}
  - {id: aq-2, kind: sensor, name: "Trạm 2", district: d2, integrator: envsense}
  - {id: aq-3, kind: sensor, name: "Trạm 3", district: d2, integrator: envsense}
  - {id: wl-1, kind: sensor, name: "Mực nước 1", district: d2, integrator: envsense, commissioning: true}
  - {id: cam-bvtw-01, kind: camera, name: "Camera", district: d2, integrator: vms-tn}
`

const commissioningRules = `
rules:
  - id: device-offline
    kind: silence
    severity: critical
    measurement: any
    timeouts: {sensor: 2m}
    mass: {off: true}
    message: {vi: "{{.Device.Name}} mất kết nối", en: "{{.Device.Name}} offline"}
`

// TestCommissioningDevices (integrator review: "a device registered before
// it is installed pages critical 2 minutes later"): aq-1 and wl-1 are
// registered with commissioning: true. They raise no offline alert while
// silent and the wall shows them as commissioning; aq-1's first message
// and an operator's commission command for wl-1 make them live, which
// survives an ingest restart: silent again, both go offline one timeout
// after the restart.
func TestCommissioningDevices(t *testing.T) {
	c := testConfig(t)
	dir := t.TempDir()
	c.Registry, c.Alerts.Rules = filepath.Join(dir, "devices.yaml"), filepath.Join(dir, "rules.yaml")
	for p, body := range map[string]string{c.Registry: commissioningRegistry, c.Alerts.Rules: commissioningRules} {
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c.Broker.AllowAnonymous = false
	t0 := time.Now().Truncate(time.Second)
	clock := &testClock{now: t0}
	ing := startIngest(t, c, clock.Now)
	w := watchWall(t, ing.BrokerURL)
	status := func(w *wall, id string, want contract.Status) {
		t.Helper()
		testenv.Eventually(t, 10*time.Second, func() error {
			w.mu.Lock()
			defer w.mu.Unlock()
			if got := w.devices[id].Status; got != want {
				return fmt.Errorf("%s: status %q, want %q", id, got, want)
			}
			return nil
		})
	}
	status(w, "aq-1", contract.StatusCommissioning)
	status(w, "wl-1", contract.StatusCommissioning)
	status(w, "aq-3", contract.StatusUnknown)

	env, err := dial(ing.BrokerURL, "gw-envsense", "envsense", "demo-envsense")
	if err != nil {
		t.Fatal(err)
	}
	defer env.Disconnect(100)
	wake := func(at time.Duration) { // move the clock, and wake the engine with a reading of aq-2
		clock.set(t0.Add(at))
		publish(t, env, "ioc/v1/envsense/aq-2/telemetry", []byte(`{"pm25": 10}`))
	}

	// Three minutes: aq-3, installed and silent, is offline; the two
	// commissioning devices are not.
	wake(3 * time.Minute)
	w.event(alert.Raised, "device-offline/aq-3", 15*time.Second)
	for _, id := range []string{"device-offline/aq-1", "device-offline/wl-1"} {
		if n := w.count(alert.Raised, id); n != 0 {
			t.Errorf("%s raised while commissioning", id)
		}
	}

	// aq-1 reports; the operator says wl-1 is installed.
	publish(t, env, "ioc/v1/envsense/aq-1/telemetry", []byte(`{"pm25": 12}`))
	status(w, "aq-1", contract.StatusOnline)
	w.command(contract.Command{ID: "c1", Op: contract.OpCommission, Target: "device:wl-1", By: "op"})
	if r := w.result("c1", 10*time.Second); r["ok"] != true {
		t.Fatalf("commission refused: %v", r)
	}
	w.command(contract.Command{ID: "c2", Op: contract.OpCommission, Target: "device:aq-2", By: "op"})
	if r := w.result("c2", 10*time.Second); r["ok"] == true {
		t.Fatalf("commissioned a device that is not commissioning: %v", r)
	}
	status(w, "wl-1", contract.StatusUnknown)

	// A restart keeps them live: no longer shown as commissioning, and
	// silent from the restart on, both go offline two minutes later.
	clock.set(t0.Add(3*time.Minute + 30*time.Second))
	ing.stop()
	ing = startIngest(t, c, clock.Now)
	w = watchWall(t, ing.BrokerURL)
	env2, err := dial(ing.BrokerURL, "gw-envsense", "envsense", "demo-envsense")
	if err != nil {
		t.Fatal(err)
	}
	defer env2.Disconnect(100)
	env = env2
	status(w, "aq-1", contract.StatusUnknown)
	status(w, "wl-1", contract.StatusUnknown)
	wake(5*time.Minute + 31*time.Second)
	w.event(alert.Raised, "device-offline/aq-1", 15*time.Second)
	w.event(alert.Raised, "device-offline/wl-1", 15*time.Second)
}
