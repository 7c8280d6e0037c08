package ingestd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/ingest"
	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/store"
	"github.com/ioc-vn/ioc/internal/store/embedded"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// TestGatewayBatches (integrator review: "a SenML pack with several bn is
// merged silently into the topic's device; there is no way for a gateway to
// send many devices in one message"): the envsense gateway gw-env-tp sends
// one SenML pack for two of its sensors, itself, another integrator's
// camera and an unregistered device. Each of its own devices' readings is
// stored under that device with the registry's tags; the records for the
// camera and the unknown device are refused, each reported with its device,
// and the rest of the message stands. A JSON batch of statuses reaches the
// alert engine per device: the sensor it says is offline is alerted.
func TestGatewayBatches(t *testing.T) {
	c := testConfig(t)
	c.Broker.AllowAnonymous = false
	ing := startIngest(t, c, nil)
	w := watchWall(t, ing.BrokerURL)
	env := connectTenant(t, ing.BrokerURL, "envsense")
	st, err := embedded.Open(context.Background(), c.StorePath())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	const topic = "ioc/v1/envsense/gw-env-tp/telemetry"
	publish(t, env.c, topic, []byte(`[
		{"bn": "aq-tp-01:", "n": "pm25", "u": "ug/m3", "v": 35.5},
		{"bn": "cam-bvtw-01:", "n": "x", "v": 1},
		{"bn": "aq-tp-02:", "n": "pm25", "u": "ug/m3", "v": 12.25},
		{"bn": "aq-ghost:", "n": "pm25", "v": 3},
		{"bn": "gw-env-tp:", "n": "rssi", "v": -71}]`))
	env.expect(t, topic, payload.ReasonForeignDevice, `device "cam-bvtw-01" is not registered to integrator "envsense" (1 of the message's 5 points refused; the others were stored)`)
	env.expect(t, topic, payload.ReasonUnknownDevice, `device "aq-ghost" is not registered`)
	waitStored(t, st, "aq-tp-01", "telemetry,device=aq-tp-01,district=tp-thai-nguyen,integrator=envsense,kind=sensor")
	waitStored(t, st, "aq-tp-01", "pm25=35.5")
	waitStored(t, st, "aq-tp-02", "pm25=12.25")
	waitStored(t, st, "gw-env-tp", "rssi=-71")
	for _, id := range []string{"cam-bvtw-01", "aq-ghost"} {
		if lines := storedLines(t, st, id); len(lines) != 0 {
			t.Errorf("%s: stored from another's gateway: %q", id, lines)
		}
	}
	for _, l := range storedLines(t, st, "gw-env-tp") {
		if !strings.Contains(l, "rssi=-71") {
			t.Errorf("the gateway holds another device's reading: %s", l)
		}
	}

	publish(t, env.c, "ioc/v1/envsense/gw-env-tp/status", []byte(`{"batch": [
		{"device": "aq-tp-01", "state": "online"}, {"device": "aq-tp-02", "state": "offline"}]}`))
	w.event(alert.Raised, "device-offline/aq-tp-02", 15*time.Second)
	if n := w.count(alert.Raised, "device-offline/aq-tp-01"); n != 0 {
		t.Error("aq-tp-01, online in the batch, was alerted")
	}
	env.none(t)
}

// gatewayAnswer is HTTP ingest's answer to a gateway's message.
type gatewayAnswer struct {
	Status  string           `json:"status"`
	Reason  payload.Reason   `json:"reason"`
	Error   string           `json:"error"`
	Refused []ingest.Refusal `json:"refused"`
}

func postGateway(t *testing.T, url, body string) (int, gatewayAnswer) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.SetBasicAuth("envsense", "demo-envsense")
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a gatewayAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("POST %s: the answer is not JSON: %v", url, err)
	}
	return resp.StatusCode, a
}

// TestGatewayBatchesOverHTTP sends a gateway's multi-bn SenML pack and a
// JSON batch by POST, as an integrator without MQTT does. Each of its own
// devices' records is stored under that device; the answer is 200 and
// names each refused device with its reason and record count, and the
// same refusals reach _errors. A batch all of whose devices are refused
// is refused whole, with every device listed, and nothing of it stored.
func TestGatewayBatchesOverHTTP(t *testing.T) {
	c := testConfig(t)
	c.Broker.AllowAnonymous = false
	c.HTTPIngest.Listen = "127.0.0.1:0"
	addr := make(chan string, 1)
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ing := testenv.StartIngest(t, c, ingestd.Options{Log: log, HTTPIngestStarted: func(a string) { addr <- a }})
	base := "http://" + <-addr + "/v1/ingest/envsense/gw-env-tp/"
	env := connectTenant(t, ing.Broker, "envsense")
	st, err := embedded.Open(context.Background(), c.StorePath())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	bt := time.Now().Add(-2 * time.Minute).Truncate(time.Second)

	const topic = "ioc/v1/envsense/gw-env-tp/telemetry"
	code, a := postGateway(t, base+"telemetry", fmt.Sprintf(`[
		{"bn": "aq-tp-01:", "bt": %d, "n": "pm25", "u": "ug/m3", "v": 35.5},
		{"n": "pm10", "v": 51},
		{"bn": "cam-bvtw-01:", "n": "x", "v": 1},
		{"bn": "aq-tp-02:", "n": "pm25", "u": "ug/m3", "v": 12.25},
		{"bn": "aq-ghost:", "n": "pm25", "v": 3},
		{"n": "pm10", "v": 4},
		{"bn": "gw-env-tp:", "n": "rssi", "v": -71}]`, bt.Unix()))
	want := []ingest.Refusal{
		{Device: "cam-bvtw-01", Points: 1, Reason: payload.ReasonForeignDevice},
		{Device: "aq-ghost", Points: 1, Reason: payload.ReasonUnknownDevice},
	}
	checkRefused := func(what string, got, want []ingest.Refusal) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: refused %+v, want %+v", what, got, want)
		}
		for i := range want {
			if got[i].Device != want[i].Device || got[i].Points != want[i].Points || got[i].Reason != want[i].Reason || got[i].Error == "" {
				t.Errorf("%s: refused[%d] = %+v, want %+v with an error text", what, i, got[i], want[i])
			}
		}
	}
	if code != http.StatusOK || a.Status != "stored" {
		t.Fatalf("SenML pack: %d %+v, want 200 stored", code, a)
	}
	checkRefused("SenML pack", a.Refused, want)
	env.expect(t, topic, payload.ReasonForeignDevice, `device "cam-bvtw-01" is not registered to integrator "envsense" (1 of the message's 5 points refused; the others were stored)`)
	env.expect(t, topic, payload.ReasonUnknownDevice, `device "aq-ghost" is not registered`)
	at := strconv.FormatInt(bt.UnixNano(), 10)
	// 200 means stored: no waiting.
	for dev, line := range map[string]string{
		"aq-tp-01":  "telemetry,device=aq-tp-01,district=tp-thai-nguyen,integrator=envsense,kind=sensor,name=Trạm\\ không\\ khí\\ Quảng\\ trường\\ Võ\\ Nguyên\\ Giáp,parent=gw-env-tp pm10=51,pm25=35.5 " + at,
		"aq-tp-02":  "telemetry,device=aq-tp-02,district=tp-thai-nguyen,integrator=envsense,kind=sensor,name=Trạm\\ không\\ khí\\ KCN\\ Gang\\ Thép,parent=gw-env-tp pm25=12.25 " + at,
		"gw-env-tp": "telemetry,device=gw-env-tp,district=tp-thai-nguyen,integrator=envsense,kind=gateway,name=Bộ\\ thu\\ phát\\ quan\\ trắc\\ TP.\\ Thái\\ Nguyên rssi=-71 " + at,
	} {
		if got := dataLines(t, st, dev); len(got) != 1 || got[0] != line {
			t.Errorf("%s holds %q, want [%s]", dev, got, line)
		}
	}
	for _, id := range []string{"cam-bvtw-01", "aq-ghost"} {
		if lines := storedLines(t, st, id); len(lines) != 0 {
			t.Errorf("%s: stored from another's gateway: %q", id, lines)
		}
	}

	// A JSON batch: two of its own sensors, another integrator's camera.
	ts := bt.Add(time.Second).UnixMilli()
	code, a = postGateway(t, base+"telemetry", fmt.Sprintf(`{"batch": [
		{"device": "aq-tp-01", "ts": %d, "pm25": 20.5},
		{"device": "cam-bvtw-02", "ts": %d, "x": 2},
		{"device": "wl-cau-gia-bay", "ts": %d, "level_cm": 88}]}`, ts, ts, ts))
	if code != http.StatusOK || a.Status != "stored" {
		t.Fatalf("JSON batch: %d %+v, want 200 stored", code, a)
	}
	checkRefused("JSON batch", a.Refused, []ingest.Refusal{{Device: "cam-bvtw-02", Points: 1, Reason: payload.ReasonForeignDevice}})
	env.expect(t, topic, payload.ReasonForeignDevice, `device "cam-bvtw-02" is not registered to integrator "envsense" (1 of the message's 3 points refused; the others were stored)`)
	ats := strconv.FormatInt(ts*int64(time.Millisecond), 10)
	if got := dataLines(t, st, "aq-tp-01"); len(got) != 2 || !strings.HasSuffix(got[1], " pm25=20.5 "+ats) {
		t.Errorf("aq-tp-01 holds %q, want the batch's pm25=20.5 at %s second", got, ats)
	}
	if got := storedLines(t, st, "wl-cau-gia-bay"); len(got) != 1 || !strings.HasPrefix(got[0], "telemetry,device=wl-cau-gia-bay,") || !strings.HasSuffix(got[0], " level_cm=88 "+ats) {
		t.Errorf("wl-cau-gia-bay holds %q, want level_cm=88 at %s", got, ats)
	}
	if lines := storedLines(t, st, "cam-bvtw-02"); len(lines) != 0 {
		t.Errorf("cam-bvtw-02: stored from another's gateway: %q", lines)
	}

	// Nothing of its own: refused whole, every device listed.
	code, a = postGateway(t, base+"status", `{"batch": [
		{"device": "cam-bvtw-03", "state": "offline"}, {"device": "aq-nowhere", "state": "offline"}]}`)
	if code != http.StatusForbidden || a.Reason != payload.ReasonForeignDevice || a.Error == "" {
		t.Errorf("a batch of others' devices: %d %+v, want 403 foreign_device", code, a)
	}
	checkRefused("others' batch", a.Refused, []ingest.Refusal{
		{Device: "cam-bvtw-03", Points: 1, Reason: payload.ReasonForeignDevice},
		{Device: "aq-nowhere", Points: 1, Reason: payload.ReasonUnknownDevice},
	})
	const statusTopic = "ioc/v1/envsense/gw-env-tp/status"
	env.expect(t, statusTopic, payload.ReasonForeignDevice, `cam-bvtw-03`)
	env.expect(t, statusTopic, payload.ReasonUnknownDevice, `aq-nowhere`)
	env.expect(t, statusTopic, payload.ReasonForeignDevice, `cam-bvtw-03`) // the message, refused whole
	for _, id := range []string{"cam-bvtw-03", "aq-nowhere"} {
		if lines := storedLines(t, st, id); len(lines) != 0 {
			t.Errorf("%s: stored from a refused batch: %q", id, lines)
		}
	}
	env.none(t)
}

// TestSenMLUnitsKept: the units of SenML readings (u, and bu for the
// records after it) are kept per device field as measurement "unit",
// also for a gateway's devices; the same unit again writes nothing more
// and says nothing; a unit that changes is reported to the integrator
// (unit_changed) and the value is stored as sent, the new unit kept.
func TestSenMLUnitsKept(t *testing.T) {
	c := testConfig(t)
	c.Broker.AllowAnonymous = false
	ing := startIngest(t, c, nil)
	env := connectTenant(t, ing.BrokerURL, "envsense")
	st, err := embedded.Open(context.Background(), c.StorePath())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	units := func(dev string) []string {
		pts, err := st.Query(context.Background(), store.Query{Device: dev, Measurement: payload.MeasurementUnit, From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range pts {
			var fs []string
			for _, f := range p.Fields {
				fs = append(fs, f.Key+"="+strconv.Quote(f.S))
			}
			out = append(out, strings.Join(fs, ","))
		}
		return out
	}

	const topic = "ioc/v1/envsense/gw-env-tp/telemetry"
	publish(t, env.c, topic, []byte(`[
		{"bn": "aq-tp-01:", "bu": "ug/m3", "n": "pm25", "v": 35.5},
		{"n": "pm10", "v": 51},
		{"n": "temp", "u": "Cel", "v": 31.5},
		{"bn": "gw-env-tp:", "n": "rssi", "u": "dBm", "v": -71}]`))
	waitStored(t, st, "aq-tp-01", "pm10=51,pm25=35.5,temp=31.5")
	if got := units("aq-tp-01"); len(got) != 1 || got[0] != `pm10="ug/m3",pm25="ug/m3",temp="Cel"` {
		t.Errorf("aq-tp-01's units: %q", got)
	}
	if got := units("gw-env-tp"); len(got) != 1 || got[0] != `rssi="dBm"` {
		t.Errorf("the gateway's units: %q", got)
	}
	for _, l := range storedLines(t, st, "gw-env-tp") {
		if strings.Contains(l, "pm25") {
			t.Errorf("the gateway holds another device's unit: %s", l)
		}
	}

	// The same units again: stored, nothing more kept or said.
	publish(t, env.c, "ioc/v1/envsense/aq-tp-01/telemetry", []byte(`[{"bu": "ug/m3", "n": "pm25", "v": 36, "t": -1}]`))
	waitStored(t, st, "aq-tp-01", "pm25=36")
	if got := units("aq-tp-01"); len(got) != 1 {
		t.Errorf("the same unit again was kept again: %q", got)
	}
	// A changed unit: stored as sent, reported, kept.
	publish(t, env.c, "ioc/v1/envsense/aq-tp-01/telemetry", []byte(`[{"n": "pm25", "u": "mg/m3", "v": 0.037, "t": -2}]`))
	env.expect(t, "ioc/v1/envsense/aq-tp-01/telemetry", payload.ReasonUnitChanged, `field "pm25" of device "aq-tp-01" was sent in "ug/m3" and is now in "mg/m3"`)
	waitStored(t, st, "aq-tp-01", "pm25=0.037")
	if got := units("aq-tp-01"); len(got) != 2 || got[1] != `pm25="mg/m3"` {
		t.Errorf("the changed unit: %q", got)
	}
	// A device may not write the units itself.
	publish(t, env.c, "ioc/v1/envsense/aq-tp-01/telemetry", []byte(`unit pm25="ppm"`))
	env.expect(t, "ioc/v1/envsense/aq-tp-01/telemetry", payload.ReasonReservedMeasurement, `measurement "unit"`)
	env.none(t)
}

// dataLines is storedLines without the units kept beside the data.
func dataLines(t *testing.T, st store.Store, device string) []string {
	t.Helper()
	var out []string
	for _, l := range storedLines(t, st, device) {
		if !strings.HasPrefix(l, payload.MeasurementUnit+",") {
			out = append(out, l)
		}
	}
	return out
}
