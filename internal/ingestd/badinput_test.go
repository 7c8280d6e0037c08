package ingestd_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/ingest"
	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// TestBadInputRejectedGoodKept publishes one message of every bad-input
// class between good ones, through Mosquitto into InfluxDB. Each bad one
// must come back on its integrator's _errors topic with its reason and not
// be stored; every good one must be stored.
func TestBadInputRejectedGoodKept(t *testing.T) {
	in := testenv.StartInflux(t)
	mq := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
	c := testConfig(t)
	c.Registry = writeRegistry(t, 10)
	c.MQTT.Broker = mq.URL
	c.Influx.URL, c.Influx.Database = in.URL, in.DB
	// A database that already holds telemetry.legacy as a string.
	resp, err := http.Post(in.URL+"/write?db="+in.DB, "text/plain", strings.NewReader(`telemetry,device=old legacy="text"`))
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("seed InfluxDB: %v %v", resp, err)
	}
	resp.Body.Close()
	ing := startIngest(t, c, nil)
	errs := reports(t, mq.URL)
	pub := client(t, mq.URL, "bad-input-publisher")

	now := time.Now()
	huge := `{"blob":"` + strings.Repeat("x", 300<<10) + `"}`
	bad := []struct {
		topic, body string
		reason      payload.Reason
	}{
		{"ioc/v1/bench/dev-00001/telemetry", `{"pm25": 35.2`, payload.ReasonMalformedJSON},
		{"ioc/v1/bench/dev-00001/telemetry", `[{"n":"pm25","v":1,"vs":"x"}]`, payload.ReasonMalformedSenML},
		{"ioc/v1/bench/dev-00001/telemetry", "air pm25=1\nair pm25=", payload.ReasonMalformedLine},
		{"ioc/v1/bench/dev-00001/status", `{"recording": "yes"}`, payload.ReasonWrongType},
		{"ioc/v1/bench/dev-00001/telemetry", `{"pm25": NaN}`, payload.ReasonNonFinite},
		{"ioc/v1/bench/dev-00001/telemetry", `{"pm25": 1e400}`, payload.ReasonNonFinite},
		{"ioc/v1/bench/dev-00001/telemetry", "air x=Inf", payload.ReasonMalformedLine},
		{"ioc/v1/bench/dev-00001/telemetry", "{\"note\": \"\xc3\x28\"}", payload.ReasonInvalidUTF8},
		{"ioc/v1/bench/dev-00001/telemetry", huge, payload.ReasonTooLarge},
		{"ioc/v1/bench/dev-00001/telemetry", fmt.Sprintf(`{"ts": %d, "pm25": 1}`, now.Add(24*time.Hour).UnixMilli()), payload.ReasonTimeOutOfRange},
		{"ioc/v1/bench/dev-00001/telemetry", fmt.Sprintf(`{"ts": %d, "pm25": 1}`, now.AddDate(-1, 0, 0).UnixMilli()), payload.ReasonTimeOutOfRange},
		{"ioc/v1/bench/no-such-device/telemetry", `{"pm25": 1}`, payload.ReasonUnknownDevice},
		{"ioc/v1/bench/other-01/telemetry", `{"pm25": 1}`, payload.ReasonForeignDevice},
		{"ioc/v1/bench/dev-00001/video", `{"pm25": 1}`, payload.ReasonUnknownChannel},
		{"ioc/v1/bench/dev-00001/telemetry/extra", `{"pm25": 1}`, payload.ReasonBadTopic},
		{"ioc/v1/bench/dev-00001/telemetry", ``, payload.ReasonEmpty},
		{"ioc/v1/bench/dev-00001/event", `{"zone": "gate"}`, payload.ReasonMissingField},
		{"ioc/v1/bench/dev-00001/telemetry", `{"device": "dev-00002"}`, payload.ReasonInvalidKey},
		// pm25 is not declared: only numbers (F8).
		{"ioc/v1/bench/dev-00001/telemetry", `{"pm25": "high"}`, payload.ReasonWrongType},
		// Accepted into the spool, refused by InfluxDB (legacy holds
		// strings from before any declaration): reported after the fact,
		// the good data around it kept.
		{"ioc/v1/bench/dev-00001/telemetry", `{"legacy": 1}`, payload.ReasonStoreRejected},
	}
	good := 0
	publishGood := func() {
		publish(t, pub, fmt.Sprintf("ioc/v1/bench/dev-%05d/telemetry", good%10),
			[]byte(fmt.Sprintf(`{"ts": %d, "seq": %d, "pm25": 12.5}`, now.Add(time.Duration(good)*time.Millisecond).UnixMilli(), good)))
		good++
	}
	for _, b := range bad {
		publishGood()
		publish(t, pub, b.topic, []byte(b.body))
		publishGood()
	}

	want := map[string]int{}
	for _, b := range bad {
		want[b.topic+" "+string(b.reason)]++
	}
	got := map[string]int{}
	var withoutText []ingest.Report
	deadline := time.After(20 * time.Second)
	for n := 0; n < len(bad); n++ {
		select {
		case r := <-errs:
			got[r.Topic+" "+string(r.Reason)]++
			if r.Error == "" {
				withoutText = append(withoutText, r)
			}
		case <-deadline:
			t.Fatalf("got %d of %d rejection reports: %v", n, len(bad), got)
		}
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d reports on the errors topic, want %d", k, got[k], n)
		}
	}
	if len(withoutText) > 0 {
		t.Errorf("reports without an error text: %v", withoutText)
	}
	testenv.Eventually(t, 20*time.Second, func() error {
		if n := influxCount(t, in, "seq"); n != good {
			return fmt.Errorf("%d of %d good messages stored", n, good)
		}
		return nil
	})
	// Nothing from the bad messages: pm25 is only in good ones.
	if n := influxCount(t, in, "pm25"); n != good {
		t.Fatalf("%d points have pm25; want exactly the %d good messages", n, good)
	}
	for _, b := range bad {
		if got := metric(t, ing.HTTP, `ioc_ingest_messages_rejected_total{reason="`+string(b.reason)+`"}`); got < 1 {
			t.Errorf("metric for %s is %v", b.reason, got)
		}
	}
}
