package ingestd_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/ingest"
	"github.com/ioc-vn/ioc/internal/ingestd"
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
// It reports whether one came.
func (tn *tenant) expect(t *testing.T, topic string, reason payload.Reason, detail string) bool {
	t.Helper()
	select {
	case r := <-tn.reports:
		if r.Topic != topic || r.Reason != reason || !strings.Contains(r.Error, detail) {
			t.Errorf("report %s %s %q; want %s %s mentioning %q", r.Topic, r.Reason, r.Error, topic, reason, detail)
		}
		return true
	case <-time.After(10 * time.Second):
		t.Errorf("no %s report for %s", reason, topic)
		return false
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
	check := func(t *testing.T, c *ingestd.Config, st store.Store) {
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
	config := func(t *testing.T) *ingestd.Config {
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

// TestCardinalityBounded (security review F12): the review's 20,000
// distinct tag values from one device are refused past the bound of
// distinct series per device per hour, the database's series rows stay
// bounded, and the good readings sent in between are all stored. Tags per
// line, tag value length and measurement names per integrator are bounded
// too; the hour is the injected clock's.
func TestCardinalityBounded(t *testing.T) {
	var mu sync.Mutex
	now := time.Now().Truncate(time.Hour).Add(10 * time.Minute)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	c := testConfig(t)
	c.Broker.AllowAnonymous = false
	c.Alerts.Rules = ""
	ing := startIngest(t, c, clock)
	env := connectTenant(t, ing.BrokerURL, "envsense")
	st, err := embedded.Open(context.Background(), c.StorePath())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db, err := sql.Open("sqlite", "file:"+c.StorePath()+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	seriesRows := func(device string) int {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM series WHERE device = ?`, device).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	aq := "ioc/v1/envsense/aq-tp-01/telemetry"
	lines := func(from, n int) []byte {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "ids,serial=s%d v=1\n", from+i)
		}
		return []byte(b.String())
	}
	const msgs, perMsg = 50, 400 // 20,000 distinct tag values
	base := clock().Add(-time.Minute)
	for i := range msgs {
		publish(t, env.c, aq, []byte(fmt.Sprintf(`{"ts": %d, "seq": %d, "pm25": 12.5}`, base.Add(time.Duration(i)*time.Millisecond).UnixMilli(), i)))
		publish(t, env.c, aq, lines(i*perMsg, perMsg))
	}
	// The telemetry series and two messages of 400 fit in 1,000; each
	// later one would pass it.
	for range msgs - 2 {
		if !env.expect(t, aq, payload.ReasonTooManySeries, "the limit is 1000 per device per hour") {
			t.FailNow()
		}
	}
	testenv.Eventually(t, 15*time.Second, func() error {
		pts, err := st.Query(context.Background(), store.Query{Device: "aq-tp-01", Measurement: "telemetry", From: base.Add(-time.Hour), To: base.Add(time.Hour)})
		if err != nil {
			return err
		}
		if len(pts) != msgs {
			return fmt.Errorf("%d of %d good readings stored", len(pts), msgs)
		}
		return nil
	})
	if n := seriesRows("aq-tp-01"); n != 1+2*perMsg {
		t.Errorf("%d series rows for aq-tp-01, want %d", n, 1+2*perMsg)
	}

	// Tags per line and tag value bytes.
	wl := "ioc/v1/envsense/wl-phoyen-01/telemetry"
	publish(t, env.c, wl, []byte("river,a=1,b=2,c=3,d=4,e=5,f=6,g=7,h=8,i=9,j=10,k=11,l=12,m=13,n=14,o=15,p=16,q=17 level_cm=1"))
	env.expect(t, wl, payload.ReasonTooManyTags, "line 1: more than 16 tags")
	publish(t, env.c, wl, []byte("river,station="+strings.Repeat("x", 300)+" level_cm=1"))
	env.expect(t, wl, payload.ReasonTagTooLong, `tag "station": value of 300 bytes; the limit is 256`)

	// Measurement names per integrator: envsense has used telemetry and
	// ids; 70 more would pass 64, 62 fit, one more does not.
	names := func(from, n int) []byte {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "m%d level_cm=1\n", from+i)
		}
		return []byte(b.String())
	}
	publish(t, env.c, wl, names(0, 70))
	env.expect(t, wl, payload.ReasonTooManyMeasurements, "the limit is 64 distinct measurement names")
	publish(t, env.c, wl, names(0, 62))
	publish(t, env.c, wl, names(62, 1))
	env.expect(t, wl, payload.ReasonTooManyMeasurements, `measurement "m62" would be integrator envsense's measurement number 65`)
	waitStored(t, st, "wl-phoyen-01", "m61,")

	// The next hour the device may add series again.
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	publish(t, env.c, aq, lines(msgs*perMsg, perMsg))
	testenv.Eventually(t, 10*time.Second, func() error {
		if n := seriesRows("aq-tp-01"); n != 1+3*perMsg {
			return fmt.Errorf("%d series rows for aq-tp-01 after the hour, want %d", n, 1+3*perMsg)
		}
		return nil
	})
	env.none(t)
	for reason, want := range map[payload.Reason]float64{
		payload.ReasonTooManySeries: msgs - 2, payload.ReasonTooManyTags: 1,
		payload.ReasonTagTooLong: 1, payload.ReasonTooManyMeasurements: 2,
	} {
		if got := metric(t, ing.HTTP, `ioc_ingest_messages_rejected_total{reason="`+string(reason)+`"}`); got != want {
			t.Errorf("rejected metric for %s: %v, want %v", reason, got, want)
		}
	}
}

// TestExternalBrokerRetainedStoredOnce (security review, low: "External
// broker re-stores retained messages"): Mosquitto sends a device's retained
// message again every time ingest subscribes; it is stored once, when
// published, and acknowledged but not stored again after a restart.
func TestExternalBrokerRetainedStoredOnce(t *testing.T) {
	mq := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
	c := testConfig(t)
	c.MQTT.Broker = mq.URL
	c.Alerts.Rules = ""
	ing := startIngest(t, c, nil)
	ready := func() {
		t.Helper()
		testenv.Eventually(t, 15*time.Second, func() error { // subscribed: a publish now is routed live, not replayed
			resp, err := http.Get("http://" + ing.HTTP + "/readyz")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("readyz %d", resp.StatusCode)
			}
			return nil
		})
	}
	// Published before ingest subscribed, the message would reach it only
	// as a retained replay, which is (rightly) not stored.
	ready()
	dev := client(t, mq.URL, "cam-bvtw-02-retained")
	topic := "ioc/v1/vms-tn/cam-bvtw-02/status"
	if tok := dev.Publish(topic, 1, true, `{"state":"offline"}`); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish retained: %v", tok.Error())
	}
	count := func(st store.Store, want string) int {
		n := 0
		for _, l := range storedLines(t, st, "cam-bvtw-02") {
			if strings.Contains(l, want) {
				n++
			}
		}
		return n
	}
	open := func() store.Store {
		st, err := embedded.Open(context.Background(), c.StorePath())
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := open()
	waitStored(t, st, "cam-bvtw-02", `state="offline"`)
	st.Close()
	ing.stop()

	// The same session again: ingest subscribes, Mosquitto replays the
	// retained message first, then routes the device's next publish.
	ing = startIngest(t, c, nil)
	ready() // subscribed: the replay is queued
	publish(t, dev, topic, []byte(`{"state":"online"}`))
	st = open()
	defer st.Close()
	waitStored(t, st, "cam-bvtw-02", `state="online"`)
	if n := count(st, `state="offline"`); n != 1 {
		t.Errorf("the retained offline status is stored %d times, want once", n)
	}
	// Mosquitto replays a retained message on every SUBSCRIBE of its filter,
	// and a resumed session may see more than one: each is skipped.
	if got := metric(t, ing.HTTP, "ioc_ingest_retained_replays_skipped_total"); got < 1 {
		t.Errorf("retained replays skipped: %v, want at least 1", got)
	}
}
