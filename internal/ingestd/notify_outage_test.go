package ingestd_test

import (
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/notify"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// A district of eight cameras (and one elsewhere; the shipped credentials'
// integrators and device account), and the offline rule
// that folds half a district's silence into one district alert.
const outageRegistry = `
province: Test
districts: [{id: d1, name: "Quận 1"}, {id: d3, name: "Huyện Ba"}]
integrators: [{id: vms-tn, name: VMS}, {id: envsense, name: Env}, {id: smartcity-tn, name: City}]
devices:
  - {id: cam-x, kind: camera, name: "Camera X", district: d1, integrator: vms-tn}
  - {id: cam-bvtw-01, kind: sensor, name: "Device with its own account (no timeout)", district: d1, integrator: vms-tn}
%s`

const outageRules = `
rules:
  - id: device-offline
    kind: silence
    severity: critical
    measurement: any
    timeouts: {camera: 2m}
    mass: {fraction: 0.5, min_devices: 5}
    message: {vi: "{{.Device.Name}} mất kết nối", en: "{{.Device.Name}} offline"}
`

// TestNotifyDistrictOutageOnce: eight cameras of a district fall silent
// at once; the district's outage is one alert with the cameras folded
// under it, and the webhook is told once that it started and once that it
// ended (threaded), never about a camera on its own.
func TestNotifyDistrictOutageOnce(t *testing.T) {
	c := alertConfig(t)
	var devs strings.Builder
	var cams []string
	for i := 1; i <= 8; i++ {
		id := fmt.Sprintf("cam-d3-%d", i)
		cams = append(cams, id)
		fmt.Fprintf(&devs, "  - {id: %s, kind: camera, name: \"Camera Ba %d\", district: d3, integrator: vms-tn}\n", id, i)
	}
	for p, body := range map[string]string{c.Registry: fmt.Sprintf(outageRegistry, devs.String()), c.Alerts.Rules: outageRules} {
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 5, 8, 7, 30, 0, 0, time.UTC)
	clock := &testClock{now: t0}
	hook := &hookReceiver{now: clock.Now}
	hs := httptest.NewServer(hook)
	defer hs.Close()
	c.Notify = notify.Config{
		BaseURL: "https://ioc.test", GroupWait: 30 * time.Second,
		Channels:   map[string]notify.ChannelConfig{"trung-tam": {Type: "webhook", URL: hs.URL, Secret: webhookSecret}},
		Recipients: map[string]notify.Recipient{"trung-tam": {Channel: "trung-tam"}},
		Policies:   []notify.Policy{{Name: "nghiem-trong", Severities: []alert.Severity{alert.Critical}, Notify: []string{"trung-tam"}}},
	}
	ing := startIngest(t, c, clock.Now)
	w := watchWall(t, ing.BrokerURL)
	pub, err := dial(ing.BrokerURL, "vms-outage", "vms-tn", "demo-vms-tn")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Disconnect(100)
	status := func(devs ...string) {
		for _, d := range devs {
			publish(t, pub, "ioc/v1/vms-tn/"+d+"/status", []byte(`{"state":"online"}`))
		}
	}
	status(append(cams, "cam-x")...)
	// The alert service has heard them all (at t0) before the clock moves.
	testenv.Eventually(t, 20*time.Second, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, d := range append(cams, "cam-x") {
			if w.devices[d].Status != contract.StatusOnline {
				return fmt.Errorf("%s is %q on the wall", d, w.devices[d].Status)
			}
		}
		return nil
	})

	// Three minutes of silence from the district (Camera X keeps talking).
	clock.set(t0.Add(3 * time.Minute))
	status("cam-x")
	const district = "device-offline/district:d3"
	defer func() {
		if t.Failed() {
			w.mu.Lock()
			for _, e := range w.events {
				t.Logf("event %s %+v", e.Kind, e.Alert)
			}
			for id, d := range w.devices {
				t.Logf("device %s %s", id, d.Status)
			}
			w.mu.Unlock()
		}
	}()
	// An alert surfaces alerts.surface_after (3 s) after it is raised, on
	// the same clock: move it a second at a time until it does. The alert
	// service arms its timer for the time left on its clock and looks again
	// when a message wakes it: Camera X's report does.
	surfaced := func(kind alert.TransitionKind) {
		testenv.Eventually(t, 20*time.Second, func() error {
			w.mu.Lock()
			defer w.mu.Unlock()
			for _, e := range w.events {
				if e.Kind == string(kind) && e.Alert != nil && e.Alert.ID == district {
					return nil
				}
			}
			clock.set(clock.Now().Add(time.Second))
			status("cam-x")
			return fmt.Errorf("no %s %s event", kind, district)
		})
	}
	surfaced(alert.Raised)
	clock.set(clock.Now().Add(31 * time.Second))
	status("cam-x")
	waitFor(t, "the district's raised message", func() bool { return len(hook.messages()) >= 1 })
	testenv.Eventually(t, 15*time.Second, func() error {
		if st := outboxStatus(t, ing.HTTP); st.Counts["sent"] != 1 || st.Counts["pending"]+st.Counts["sending"] != 0 {
			return fmt.Errorf("outbox %+v, want the one message sent", st)
		}
		return nil
	})
	got := hook.messages()
	if len(got) != 1 || got[0].Kind != notify.KindRaised || got[0].Alert != district {
		t.Fatalf("the webhook got %d messages (%+v); want one, the district's outage", len(got), got)
	}
	if !strings.Contains(got[0].Text, "Huyện Ba") {
		t.Errorf("the district's message does not name it:\n%s", got[0].Text)
	}

	// The power is back: one resolved message, under the first.
	clock.set(t0.Add(5 * time.Minute))
	status(append(cams, "cam-x")...)
	surfaced(alert.Cleared)
	clock.set(clock.Now().Add(31 * time.Second))
	status("cam-x")
	waitFor(t, "the district's resolved message", func() bool { return len(hook.messages()) >= 2 })
	testenv.Eventually(t, 15*time.Second, func() error {
		if st := outboxStatus(t, ing.HTTP); st.Counts["sent"] != 2 || st.Counts["pending"]+st.Counts["sending"] != 0 || st.Incidents != 0 {
			return fmt.Errorf("outbox %+v, want two sent and no open incident", st)
		}
		return nil
	})
	got = hook.messages()
	if len(got) != 2 || got[1].Kind != notify.KindResolved || got[1].Alert != district || got[1].ReplyTo != got[0].Key {
		t.Fatalf("the webhook got %+v; want the raised message, then the resolved one threaded under it", got)
	}
}
