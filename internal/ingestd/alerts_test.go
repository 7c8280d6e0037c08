package ingestd_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/store"
	"github.com/ioc-vn/ioc/internal/store/embedded"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// A small province with short timeouts, so liveness is tested in seconds.
const alertRegistry = `
province: Test
districts: [{id: d1, name: "Quận 1"}, {id: d2, name: "Quận 2"}]
integrators: [{id: vms-tn, name: VMS}, {id: envsense, name: Env}, {id: smartcity-tn, name: City}]
devices:
  - {id: nvr-a, kind: nvr, name: "Đầu ghi A", district: d1, integrator: vms-tn}
  - {id: cam-a1, kind: camera, parent: nvr-a, name: "Camera A1", district: d1, integrator: vms-tn, profile: {fps: 25, bitrate_kbps: 2048}}
  - {id: cam-a2, kind: camera, parent: nvr-a, name: "Camera A2", district: d1, integrator: vms-tn, profile: {fps: 25, bitrate_kbps: 2048}}
  - {id: cam-a3, kind: camera, parent: nvr-a, name: "Camera A3", district: d1, integrator: vms-tn, profile: {fps: 25, bitrate_kbps: 2048}}
  - {id: cam-b1, kind: camera, name: "Camera B1", district: d2, integrator: vms-tn, profile: {fps: 25, bitrate_kbps: 2048}}
  - {id: cam-bvtw-01, kind: camera, name: "Camera with its own account", district: d2, integrator: vms-tn}
  - {id: aq-1, kind: sensor, name: "Trạm 1", district: d2, integrator: envsense}
  - {id: aq-2, kind: sensor, name: "Trạm 2", district: d2, integrator: envsense}
  - {id: wl-1, kind: sensor, name: "Mực nước 1", district: d2, integrator: envsense}
`

const alertRules = `
rules:
  - id: pm25-high
    kind: threshold
    severity: major
    scope: {kinds: [sensor]}
    field: pm25
    raise: {op: ">", value: 150, for: 1s}
    clear: {op: "<", value: 120, for: 1s}
    message: {vi: "PM2.5 cao tại {{.Device.Name}}: {{.Value}}", en: "High PM2.5 at {{.Device.Name}}: {{.Value}}"}
  - id: water-rising
    kind: rise
    severity: critical
    scope: {kinds: [sensor]}
    field: water_level_cm
    delta: 20
    window: 10m
    message: {vi: "Nước lên {{.Value}}", en: "Water rising {{.Value}}"}
  - id: camera-not-recording
    kind: threshold
    severity: major
    scope: {kinds: [camera]}
    measurement: status
    field: recording
    raise: {op: "==", value: false}
    message: {vi: "{{.Device.Name}} không ghi hình", en: "{{.Device.Name}} not recording"}
  - id: camera-tamper
    kind: event
    severity: critical
    scope: {kinds: [camera]}
    types: [tamper]
    message: {vi: "Che camera {{.Device.Name}}", en: "Tamper at {{.Device.Name}}"}
  - id: device-offline
    kind: silence
    severity: critical
    measurement: any
    timeouts: {camera: 2s, nvr: 2s, sensor: 3s}
    mass: {off: true}
    message: {vi: "{{.Device.Name}} mất kết nối", en: "{{.Device.Name}} offline"}
`

func alertConfig(t *testing.T) *ingestd.Config {
	c := testConfig(t)
	dir := t.TempDir()
	c.Registry = filepath.Join(dir, "devices.yaml")
	c.Alerts.Rules = filepath.Join(dir, "rules.yaml")
	for p, body := range map[string]string{c.Registry: alertRegistry, c.Alerts.Rules: alertRules} {
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c.Broker.AllowAnonymous = false
	c.Alerts.SurfaceAfter = 3 * time.Second
	return c
}

// wall is what an IOC server sees of the server topic tree.
type wall struct {
	t       *testing.T
	mu      sync.Mutex
	alerts  map[string]alert.Alert // retained, by id
	devices map[string]contract.DeviceState
	events  []eventRec
	results []map[string]any
	c       paho.Client
}

type eventRec struct {
	Seq   uint64       `json:"seq"`
	Kind  string       `json:"kind"`
	At    time.Time    `json:"at"`
	Alert *alert.Alert `json:"alert"`
	got   time.Time
}

func watchWall(t *testing.T, url string) *wall {
	t.Helper()
	w := &wall{t: t, alerts: map[string]alert.Alert{}, devices: map[string]contract.DeviceState{}}
	c, err := dial(url, "ioc-wall-"+strings.ReplaceAll(t.Name(), "/", "-"), "ioc-server", "demo-ioc-server")
	if err != nil {
		t.Fatalf("ioc-server connect: %v", err)
	}
	t.Cleanup(func() { c.Disconnect(0) })
	w.c = c
	tok := c.Subscribe(contract.ServerRoot+"#", 1, func(_ paho.Client, m paho.Message) {
		w.mu.Lock()
		defer w.mu.Unlock()
		switch topic := m.Topic(); {
		case strings.HasPrefix(topic, contract.AlertsPrefix):
			id := strings.TrimPrefix(topic, contract.AlertsPrefix)
			if len(m.Payload()) == 0 {
				delete(w.alerts, id)
				return
			}
			var a alert.Alert
			if err := json.Unmarshal(m.Payload(), &a); err != nil {
				t.Errorf("%s: %v", topic, err)
			}
			w.alerts[id] = a
		case strings.HasPrefix(topic, contract.DevicesPrefix):
			var d contract.DeviceState
			if err := json.Unmarshal(m.Payload(), &d); err != nil {
				t.Errorf("%s: %v", topic, err)
			}
			w.devices[d.ID] = d
		case topic == contract.EventsTopic:
			e := eventRec{got: time.Now()}
			if err := json.Unmarshal(m.Payload(), &e); err != nil {
				t.Errorf("%s: %v", topic, err)
			}
			if n := len(w.events); n > 0 && e.Seq != w.events[n-1].Seq+1 {
				t.Errorf("event seq %d after %d: not in order or missing", e.Seq, w.events[n-1].Seq)
			}
			w.events = append(w.events, e)
		case topic == contract.ResultsTopic:
			var r map[string]any
			json.Unmarshal(m.Payload(), &r)
			w.results = append(w.results, r)
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return w
}

// event waits for a transition of kind on alert id and returns it.
func (w *wall) event(kind alert.TransitionKind, id string, timeout time.Duration) eventRec {
	w.t.Helper()
	var found eventRec
	testenv.Eventually(w.t, timeout, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, e := range w.events {
			if e.Kind == string(kind) && e.Alert != nil && e.Alert.ID == id {
				found = e
				return nil
			}
		}
		return fmt.Errorf("no %s %s event", kind, id)
	})
	return found
}

// eventAfter waits for an event of one of kinds for alert id that the
// wall received after the given time.
func (w *wall) eventAfter(after time.Time, id string, timeout time.Duration, kinds ...alert.TransitionKind) eventRec {
	w.t.Helper()
	var found eventRec
	testenv.Eventually(w.t, timeout, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, e := range w.events {
			for _, k := range kinds {
				if e.Kind == string(k) && e.Alert != nil && e.Alert.ID == id && e.got.After(after) {
					found = e
					return nil
				}
			}
		}
		return fmt.Errorf("no %v %s event after %s", kinds, id, after.Format(time.StampMilli))
	})
	return found
}

func (w *wall) count(kind alert.TransitionKind, id string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, e := range w.events {
		if e.Kind == string(kind) && e.Alert != nil && e.Alert.ID == id {
			n++
		}
	}
	return n
}

func (w *wall) alert(id string) (alert.Alert, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	a, ok := w.alerts[id]
	return a, ok
}

func (w *wall) command(c contract.Command) {
	w.t.Helper()
	b, _ := json.Marshal(c)
	publish(w.t, w.c, contract.CommandsTopic, b)
}

func (w *wall) result(id string, timeout time.Duration) map[string]any {
	w.t.Helper()
	var found map[string]any
	testenv.Eventually(w.t, timeout, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, r := range w.results {
			if r["id"] == id {
				found = r
				return nil
			}
		}
		return fmt.Errorf("no result for command %s", id)
	})
	return found
}

// heartbeat keeps devices online with a status every 300 ms until stopped
// one by one.
type heartbeat struct {
	once   sync.Once
	exited chan struct{}
	mu     sync.Mutex
	alive  map[string]bool
	last   map[string]time.Time
	done   chan struct{}
}

func startHeartbeat(t *testing.T, clients map[string]paho.Client, devices ...string) *heartbeat {
	h := &heartbeat{alive: map[string]bool{}, last: map[string]time.Time{}, done: make(chan struct{}), exited: make(chan struct{})}
	for _, d := range devices {
		h.alive[d] = true
	}
	integrator := func(d string) string {
		if strings.HasPrefix(d, "cam") || strings.HasPrefix(d, "nvr") {
			return "vms-tn"
		}
		return "envsense"
	}
	beat := func() {
		h.mu.Lock()
		var ids []string
		for d, ok := range h.alive {
			if ok {
				ids = append(ids, d)
			}
		}
		h.mu.Unlock()
		for _, d := range ids {
			in := integrator(d)
			tok := clients[in].Publish("ioc/v1/"+in+"/"+d+"/status", 1, false, []byte(`{"state":"online"}`))
			if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Errorf("heartbeat of %s: %v", d, tok.Error())
				continue
			}
			h.mu.Lock()
			h.last[d] = time.Now()
			h.mu.Unlock()
		}
	}
	beat()
	go func() {
		defer close(h.exited)
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-tick.C:
				beat()
			}
		}
	}()
	t.Cleanup(h.halt)
	return h
}

// halt stops every heartbeat.
func (h *heartbeat) halt() {
	h.once.Do(func() { close(h.done) })
	<-h.exited
}

// stop stops devices' heartbeats and returns when each last beat was
// acknowledged.
func (h *heartbeat) stop(devices ...string) map[string]time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, d := range devices {
		h.alive[d] = false
	}
	out := map[string]time.Time{}
	for _, d := range devices {
		out[d] = h.last[d]
	}
	return out
}

func (h *heartbeat) resume(devices ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, d := range devices {
		h.alive[d] = true
	}
}

// TestAlertsThroughBroker runs ingest with alerting on its embedded broker
// and the shipped credentials, and checks each rule kind, liveness, root
// cause, maintenance, commands and a restart through real MQTT clients.
func TestAlertsThroughBroker(t *testing.T) {
	c := alertConfig(t)
	ing := startIngest(t, c, nil)
	w := watchWall(t, ing.BrokerURL)
	clients := map[string]paho.Client{}
	for _, in := range []string{"vms-tn", "envsense"} {
		cl, err := dial(ing.BrokerURL, "gw-"+in, in, "demo-"+in)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Disconnect(0) })
		clients[in] = cl
	}
	hb := startHeartbeat(t, clients, "nvr-a", "cam-a1", "cam-a2", "cam-a3", "cam-b1", "cam-bvtw-01", "aq-1", "aq-2", "wl-1")
	env := func(device, channel, body string) {
		t.Helper()
		publish(t, clients["envsense"], "ioc/v1/envsense/"+device+"/"+channel, []byte(body))
	}
	vms := func(device, channel, body string) {
		t.Helper()
		publish(t, clients["vms-tn"], "ioc/v1/vms-tn/"+device+"/"+channel, []byte(body))
	}

	// Device state: every device heard from is online and ok.
	testenv.Eventually(t, 5*time.Second, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, id := range []string{"nvr-a", "cam-a1", "aq-1"} {
			if d := w.devices[id]; d.Status != "online" || d.Health != "ok" {
				return fmt.Errorf("%s: %+v", id, d)
			}
		}
		return nil
	})

	t.Run("threshold with hysteresis", func(t *testing.T) {
		env("aq-1", "telemetry", `{"pm25":160}`)
		time.Sleep(1200 * time.Millisecond)
		env("aq-1", "telemetry", `{"pm25":170}`)
		e := w.event(alert.Raised, "pm25-high/aq-1", 3*time.Second)
		if e.Alert.Message["vi"] != "PM2.5 cao tại Trạm 1: 170" && e.Alert.Message["vi"] != "PM2.5 cao tại Trạm 1: 160" {
			t.Errorf("message %q", e.Alert.Message["vi"])
		}
		if a, ok := w.alert("pm25-high/aq-1"); !ok || a.State != alert.Active {
			t.Fatalf("retained alert %+v %v", a, ok)
		}
		// Hovering between the clear line (120) and the raise line (150)
		// neither clears nor re-raises.
		for _, v := range []int{149, 125, 140, 121} {
			env("aq-1", "telemetry", fmt.Sprintf(`{"pm25":%d}`, v))
			time.Sleep(400 * time.Millisecond)
		}
		if n := w.count(alert.Cleared, "pm25-high/aq-1"); n != 0 {
			t.Fatalf("cleared while hovering above the clear line")
		}
		env("aq-1", "telemetry", `{"pm25":100}`)
		time.Sleep(1100 * time.Millisecond)
		env("aq-1", "telemetry", `{"pm25":90}`)
		w.event(alert.Cleared, "pm25-high/aq-1", 3*time.Second)
		testenv.Eventually(t, 2*time.Second, func() error {
			if _, ok := w.alert("pm25-high/aq-1"); ok {
				return fmt.Errorf("retained alert not cleared")
			}
			return nil
		})
	})

	t.Run("rise, status and event", func(t *testing.T) {
		env("wl-1", "telemetry", `{"water_level_cm":100}`)
		env("wl-1", "telemetry", `{"water_level_cm":125}`)
		if e := w.event(alert.Raised, "water-rising/wl-1", 3*time.Second); e.Alert.Value != 25.0 || e.Alert.Severity != alert.Critical {
			t.Errorf("%+v", e.Alert)
		}
		vms("cam-b1", "status", `{"state":"online","recording":false}`)
		w.event(alert.Raised, "camera-not-recording/cam-b1", 3*time.Second)
		testenv.Eventually(t, 3*time.Second, func() error {
			w.mu.Lock()
			defer w.mu.Unlock()
			if d := w.devices["cam-b1"]; d.Health != "degraded" || d.Severity != string(alert.Major) || d.Status != "online" {
				return fmt.Errorf("cam-b1 %+v", d)
			}
			return nil
		})
		vms("cam-b1", "status", `{"state":"online","recording":true}`)
		w.event(alert.Cleared, "camera-not-recording/cam-b1", 3*time.Second)
		vms("cam-a2", "event", `{"type":"tamper"}`)
		w.event(alert.Raised, "camera-tamper/cam-a2", 3*time.Second)
	})

	t.Run("offline within timeout plus 1s", func(t *testing.T) {
		last := hb.stop("cam-b1")["cam-b1"]
		// On a busy machine a late heartbeat may already have taken cam-b1
		// offline and back: the alert that counts is the one after the
		// last message (raised, or reopened within the flap window).
		e := w.eventAfter(last, "device-offline/cam-b1", 15*time.Second, alert.Raised, alert.Reopened)
		// Never before the timeout; the bound of timeout + 1 s (the tick)
		// is the engine's, checked on a test clock by the alert package's
		// TestOfflineDeadlinesAndLastWill: here a loaded machine may add
		// scheduling delay.
		if late := e.got.Sub(last); late > 8*time.Second || late < 2*time.Second {
			t.Errorf("offline seen %s after the last message; want after the 2s timeout and within the 1s tick (plus a busy machine's delay)", late)
		}
		testenv.Eventually(t, 5*time.Second, func() error {
			w.mu.Lock()
			defer w.mu.Unlock()
			if d := w.devices["cam-b1"]; d.Status != "offline" || d.Health != "down" || d.Severity != string(alert.Critical) {
				return fmt.Errorf("cam-b1 %+v", d)
			}
			return nil
		})
		hb.resume("cam-b1")
		w.event(alert.Cleared, "device-offline/cam-b1", 3*time.Second)
	})

	t.Run("NVR outage folds its cameras", func(t *testing.T) {
		hb.stop("nvr-a", "cam-a1", "cam-a2", "cam-a3")
		w.event(alert.Raised, "device-offline/nvr-a", 5*time.Second)
		for _, cam := range []string{"cam-a1", "cam-a2", "cam-a3"} {
			id := "device-offline/" + cam
			testenv.Eventually(t, 3*time.Second, func() error {
				if a, ok := w.alert(id); !ok || a.Parent != "device-offline/nvr-a" {
					return fmt.Errorf("%s: %+v", id, a)
				}
				return nil
			})
		}
		// On the wall: one alert not folded for the recorder's outage.
		if a, _ := w.alert("device-offline/nvr-a"); a.Parent != "" {
			t.Errorf("recorder folded under %q", a.Parent)
		}
		// The recorder returns with two cameras; cam-a3 stays down and
		// surfaces on its own.
		hb.resume("nvr-a", "cam-a1", "cam-a2")
		w.event(alert.Cleared, "device-offline/nvr-a", 3*time.Second)
		e := w.event(alert.Surfaced, "device-offline/cam-a3", 10*time.Second)
		if e.Alert.Parent != "" || e.Alert.State != alert.Active {
			t.Errorf("%+v", e.Alert)
		}
		hb.resume("cam-a3")
		w.event(alert.Cleared, "device-offline/cam-a3", 3*time.Second)
	})

	t.Run("maintenance suppresses", func(t *testing.T) {
		w.command(contract.Command{ID: "m1", Op: "maintenance_start", Target: "device:aq-2", By: "ky-thuat-1", Note: "thay cảm biến"})
		if r := w.result("m1", 3*time.Second); r["ok"] != true {
			t.Fatalf("%v", r)
		}
		env("aq-2", "telemetry", `{"pm25":300}`)
		time.Sleep(1100 * time.Millisecond)
		env("aq-2", "telemetry", `{"pm25":300}`)
		if e := w.event(alert.Raised, "pm25-high/aq-2", 3*time.Second); !e.Alert.Suppressed {
			t.Errorf("raised during maintenance but not marked suppressed: %+v", e.Alert)
		}
		w.command(contract.Command{ID: "m2", Op: "maintenance_end", Target: "device:aq-2", By: "ky-thuat-1"})
		w.event(alert.Unsuppressed, "pm25-high/aq-2", 3*time.Second)
	})

	t.Run("acknowledge, refuse, resolve", func(t *testing.T) {
		// An integrator may not publish commands: the broker refuses it
		// (and drops the connection).
		intruder, err := dial(ing.BrokerURL, "intruder", "vms-tn", "demo-vms-tn")
		if err != nil {
			t.Fatal(err)
		}
		bad, _ := json.Marshal(contract.Command{ID: "evil", Op: "ack", Alert: "camera-tamper/cam-a2", By: "attacker"})
		intruder.Publish(contract.CommandsTopic, 1, false, bad).WaitTimeout(2 * time.Second)
		intruder.Disconnect(0)
		w.command(contract.Command{ID: "a1", Op: "ack", Alert: "camera-tamper/cam-a2", By: "van-hanh-1", Note: "đã cử bảo vệ"})
		if r := w.result("a1", 3*time.Second); r["ok"] != true {
			t.Fatalf("%v", r)
		}
		e := w.event(alert.Acked, "camera-tamper/cam-a2", 3*time.Second)
		if e.Alert.Ack == nil || e.Alert.Ack.By != "van-hanh-1" {
			t.Fatalf("%+v", e.Alert)
		}
		if n := w.count(alert.Acked, "camera-tamper/cam-a2"); n != 1 {
			t.Errorf("%d acknowledgements; the integrator's was not refused", n)
		}
		w.mu.Lock()
		for _, r := range w.results {
			if r["id"] == "evil" {
				t.Errorf("the integrator's command reached the engine: %v", r)
			}
		}
		w.mu.Unlock()
		// Mistakes get a specific refusal.
		w.command(contract.Command{ID: "a2", Op: "resolve", Alert: "no-such/alert", By: "van-hanh-1"})
		if r := w.result("a2", 3*time.Second); r["ok"] != false || !strings.Contains(fmt.Sprint(r["error"]), "not active") {
			t.Errorf("%v", r)
		}
		w.command(contract.Command{ID: "a3", Op: "resolve", Alert: "pm25-high/aq-2", By: "ky-thuat-1", Note: "đã hiệu chỉnh"})
		w.event(alert.Cleared, "pm25-high/aq-2", 3*time.Second)
	})

	// History: every transition is in the store.
	// waitHistory waits until cam-a2's stored alert history holds every
	// transition in want (a busy machine may add others: a late heartbeat
	// flaps the camera offline and back).
	waitHistory := func(want ...string) []string {
		st, err := embedded.Open(t.Context(), c.StorePath())
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		var got []string
		testenv.Eventually(t, 5*time.Second, func() error {
			pts, err := st.Query(t.Context(), store.Query{Device: "cam-a2", Measurement: "alert", From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Minute)})
			if err != nil {
				return err
			}
			got = got[:0]
			for _, p := range pts {
				tr, _ := p.Tag("transition")
				got = append(got, tr)
			}
			for _, w := range want {
				if !slices.Contains(got, w) {
					return fmt.Errorf("history of cam-a2: %v, want %s in it", got, w)
				}
			}
			return nil
		})
		return got
	}
	waitHistory("raised", "acked")

	// Restart: the acknowledged tamper alert is still active and still
	// acknowledged, and is not raised again.
	hb.halt()
	ing.stop()
	w.mu.Lock()
	lastSeq := w.events[len(w.events)-1].Seq
	raisedBefore := 0
	for _, e := range w.events {
		if e.Kind == string(alert.Raised) && e.Alert.ID == "camera-tamper/cam-a2" {
			raisedBefore++
		}
	}
	w.mu.Unlock()
	ing = startIngest(t, c, nil)
	w2 := watchWall(t, ing.BrokerURL)
	testenv.Eventually(t, 5*time.Second, func() error {
		a, ok := w2.alert("camera-tamper/cam-a2")
		if !ok || a.Ack == nil || a.Ack.Note != "đã cử bảo vệ" {
			return fmt.Errorf("after restart: %+v %v", a, ok)
		}
		return nil
	})
	testenv.Eventually(t, 5*time.Second, func() error {
		if a, ok := w2.alert("water-rising/wl-1"); !ok || a.State != alert.Active {
			return fmt.Errorf("water alert lost in the restart: %+v", a)
		}
		return nil
	})
	w2.command(contract.Command{ID: "r1", Op: "resolve", Alert: "camera-tamper/cam-a2", By: "van-hanh-1"})
	e := w2.event(alert.Cleared, "camera-tamper/cam-a2", 3*time.Second)
	if e.Seq <= lastSeq {
		t.Errorf("sequence restarted: %d after %d", e.Seq, lastSeq)
	}
	if w2.count(alert.Raised, "camera-tamper/cam-a2") != 0 || raisedBefore != 1 {
		t.Errorf("tamper alert raised again after the restart")
	}
}
