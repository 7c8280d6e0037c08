package ingestd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/config"
	"github.com/ioc-vn/ioc/internal/ingest"
	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/store"
	"github.com/ioc-vn/ioc/internal/store/embedded"
	"github.com/ioc-vn/ioc/internal/store/influx"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// tenant is an integrator's connection with its _errors subscription.
type tenant struct {
	c       paho.Client
	reports chan ingest.Report
}

func connectTenant(t *testing.T, url, user string) *tenant {
	t.Helper()
	c, err := dial(url, user+"-"+strings.ReplaceAll(t.Name(), "/", "-"), user, "demo-"+user)
	if err != nil {
		t.Fatalf("%s: %v", user, err)
	}
	t.Cleanup(func() { c.Disconnect(0) })
	tn := &tenant{c: c, reports: make(chan ingest.Report, 1000)}
	tok := c.Subscribe("ioc/v1/"+user+"/_errors", 1, func(_ paho.Client, m paho.Message) {
		var r ingest.Report
		if json.Unmarshal(m.Payload(), &r) == nil {
			tn.reports <- r
		}
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("%s: subscribe to its errors: %v", user, tok.Error())
	}
	return tn
}

// expect waits for the next report and checks its topic, reason and text.
func (tn *tenant) expect(t *testing.T, topic string, reason payload.Reason, detail string) {
	t.Helper()
	select {
	case r := <-tn.reports:
		if r.Topic != topic || r.Reason != reason || !strings.Contains(r.Error, detail) {
			t.Errorf("report %s %s %q; want %s %s mentioning %q", r.Topic, r.Reason, r.Error, topic, reason, detail)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("no %s report for %s", reason, topic)
	}
}

func (tn *tenant) none(t *testing.T) {
	t.Helper()
	select {
	case r := <-tn.reports:
		t.Errorf("unexpected report %+v", r)
	default:
	}
}

// storedLines returns a device's stored points as line protocol.
func storedLines(t *testing.T, st store.Store, device string) []string {
	t.Helper()
	pts, err := st.Query(context.Background(), store.Query{Device: device, From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := range pts {
		out = append(out, string(point.AppendLine(nil, &pts[i])))
	}
	return out
}

// waitStored waits until a device's stored points include one whose line
// contains want.
func waitStored(t *testing.T, st store.Store, device, want string) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, func() error {
		for _, l := range storedLines(t, st, device) {
			if strings.Contains(l, want) {
				return nil
			}
		}
		return fmt.Errorf("%s: nothing stored with %q", device, want)
	})
}

// TestDevicesWriteOnlyThroughTheirChannels (security review F7): line
// protocol on the telemetry channel may not write the alert history nor
// the status and event measurements, whose checks it would bypass. The
// review's forgeries are refused with reserved_measurement, nothing of them
// is stored, no alert is raised, and the metric counts them.
func TestDevicesWriteOnlyThroughTheirChannels(t *testing.T) {
	c := testConfig(t)
	c.Broker.AllowAnonymous = false
	ing := startIngest(t, c, nil)
	w := watchWall(t, ing.BrokerURL)
	env := connectTenant(t, ing.BrokerURL, "envsense")
	vms := connectTenant(t, ing.BrokerURL, "vms-tn")
	st, err := embedded.Open(context.Background(), c.StorePath())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	aq := "ioc/v1/envsense/aq-tp-01/telemetry"
	cam := "ioc/v1/vms-tn/cam-bvtw-01/telemetry"
	forged := []struct {
		tn          *tenant
		topic, body string
		detail      string
	}{
		{env, aq, `alert,transition=resolved,rule=device-offline,severity=critical id="device-offline/aq-tp-01",state="resolved",by="admin",note="forged"`,
			`line 1: measurement "alert" is the operations centre's alert history`},
		{env, aq, `alert event_seq="x"`, "alert history"},
		{env, aq, "maintenance,target=district:vo-nhai since=\"2026-11-23T00:00:00Z\"", `measurement "maintenance"`},
		{vms, cam, "event,type=tamper count=1", "event channel"},
		{vms, cam, `status state="offline"`, "status channel"},
		{vms, cam, "river level_cm=1\nstatus state=\"exploded\",storage_pct=250", `line 2: measurement "status"`},
	}
	for _, f := range forged {
		publish(t, f.tn.c, f.topic, []byte(f.body))
		f.tn.expect(t, f.topic, payload.ReasonReservedMeasurement, f.detail)
	}
	// A real tamper event on another camera: once its alert is raised, the
	// forged event (sent before it) has been through the pipeline too.
	publish(t, vms.c, "ioc/v1/vms-tn/cam-bvtw-02/event", []byte(`{"type":"tamper"}`))
	w.event(alert.Raised, "camera-tamper/cam-bvtw-02", 10*time.Second)
	if n := w.count(alert.Raised, "camera-tamper/cam-bvtw-01"); n != 0 {
		t.Errorf("a line-protocol event raised camera-tamper/cam-bvtw-01 (%d times)", n)
	}
	if n := w.count(alert.Raised, "device-offline/cam-bvtw-01"); n != 0 {
		t.Errorf("a line-protocol status raised device-offline/cam-bvtw-01")
	}
	// Good data from the same connections is stored; nothing forged is.
	publish(t, env.c, aq, []byte(`{"pm25": 12.5}`))
	publish(t, vms.c, cam, []byte("river level_cm=2"))
	waitStored(t, st, "aq-tp-01", "pm25=12.5")
	waitStored(t, st, "cam-bvtw-01", "level_cm=2")
	for _, d := range []string{"aq-tp-01", "cam-bvtw-01"} {
		for _, l := range storedLines(t, st, d) {
			if !strings.HasPrefix(l, "telemetry,") && !strings.HasPrefix(l, "river,") {
				t.Errorf("%s: forged point stored: %s", d, l)
			}
		}
	}
	if got := metric(t, ing.HTTP, `ioc_ingest_messages_rejected_total{reason="reserved_measurement"}`); got != float64(len(forged)) {
		t.Errorf("rejected metric for reserved_measurement %v, want %d", got, len(forged))
	}
	env.none(t)
	vms.none(t)
}

// TestOneTenantCannotTypeAnothersField (security review F8): a field's type
// comes from the registry's declarations, not from whichever integrator
// writes first. The review's repro: smartcity-tn sends a string for an
// undeclared field; it is refused with wrong_type, and envsense's numbers
// for the same field are stored. A declared field sent with the wrong type
// is refused for its sender only, naming the declared type and unit.
func TestOneTenantCannotTypeAnothersField(t *testing.T) {
	check := func(t *testing.T, c *config.Ingest, st store.Store) {
		ing := startIngest(t, c, nil)
		smart := connectTenant(t, ing.BrokerURL, "smartcity-tn")
		env := connectTenant(t, ing.BrokerURL, "envsense")
		squat := "ioc/v1/smartcity-tn/tf-tp-01/telemetry"
		publish(t, smart.c, squat, []byte(`{"co2_ppm_N":"squatted"}`))
		smart.expect(t, squat, payload.ReasonWrongType, `field "co2_ppm_N" of telemetry is a string, but it is not declared: undeclared fields must be numbers`)
		publish(t, smart.c, squat, []byte(`{"pm25":"squatted"}`))
		smart.expect(t, squat, payload.ReasonWrongType, `field "pm25" of telemetry is declared float (µg/m³); got a string`)
		publish(t, smart.c, squat, []byte("telemetry,lane=1 co2_ppm_N=7i"))

		aq := "ioc/v1/envsense/aq-tp-01/telemetry"
		publish(t, env.c, aq, []byte(`{"co2_ppm_N": 415.5, "pm25": 35.2}`))
		publish(t, env.c, aq, []byte(`[{"n":"co2_ppm_N","v":416}]`))
		waitStored(t, st, "aq-tp-01", "co2_ppm_N=416")
		waitStored(t, st, "tf-tp-01", "co2_ppm_N=7 ")
		lines := storedLines(t, st, "aq-tp-01")
		if len(lines) != 2 || !strings.Contains(strings.Join(lines, "\n"), "co2_ppm_N=415.5,pm25=35.2") {
			t.Errorf("envsense's readings: stored\n%s", strings.Join(lines, "\n"))
		}
		for _, l := range storedLines(t, st, "tf-tp-01") {
			if strings.Contains(l, "squatted") {
				t.Errorf("squatter's string stored: %s", l)
			}
		}
		env.none(t)
		smart.none(t)
		if got := metric(t, ing.HTTP, `ioc_ingest_messages_rejected_total{reason="store_rejected"}`); got != 0 {
			t.Errorf("%v messages reached the store with a conflicting type", got)
		}
	}
	config := func(t *testing.T) *config.Ingest {
		c := testConfig(t)
		c.Broker.AllowAnonymous = false
		c.Registry = "../../configs/province.yaml"
		c.Alerts.Rules = ""
		return c
	}
	t.Run("embedded", func(t *testing.T) {
		c := config(t)
		st, err := embedded.Open(context.Background(), c.StorePath())
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		check(t, c, st)
	})
	t.Run("influxdb", func(t *testing.T) {
		in := testenv.StartInflux(t)
		c := config(t)
		c.Influx.URL, c.Influx.Database = in.URL, in.DB
		st, err := influx.New(c.Influx)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		check(t, c, st)
	})
}
