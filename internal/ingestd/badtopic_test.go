package ingestd_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/store/embedded"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// TestMalformedTopicUnderOwnPrefixIsBadTopic (integrator review: "a
// malformed topic under one's own prefix is a silent disconnect"): on the
// embedded broker an integrator publishing at MQTT 3.1.1 to a malformed
// topic under its own ioc/v1/<integrator>/ gets bad_topic on its _errors
// topic and keeps its connection; a topic under another integrator's
// prefix is still refused by the broker and reported to no one.
func TestMalformedTopicUnderOwnPrefixIsBadTopic(t *testing.T) {
	c := testConfig(t)
	c.Broker.AllowAnonymous = false
	ing := startIngest(t, c, nil)
	env := connectTenant(t, ing.BrokerURL, "envsense")
	vms := connectTenant(t, ing.BrokerURL, "vms-tn")
	st, err := embedded.Open(context.Background(), c.StorePath())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	for _, tc := range []struct{ topic, detail string }{
		{"ioc/v1/envsense/aq-tp-01/telemetry/extra", "want ioc/v1/<integrator>/<device_id>/<telemetry|status|event>"},
		{"ioc/v1/envsense/aq-tp-01", "want ioc/v1/<integrator>/<device_id>/<telemetry|status|event>"},
		{"ioc/v1/envsense/aq tp 01/telemetry", "device id"},
	} {
		publish(t, env.c, tc.topic, []byte(`{"pm25": 1}`))
		env.expect(t, tc.topic, payload.ReasonBadTopic, tc.detail)
	}
	if !env.c.IsConnectionOpen() {
		t.Fatal("the integrator was disconnected for a malformed topic under its own prefix")
	}
	publish(t, env.c, "ioc/v1/envsense/aq-tp-01/telemetry", []byte(`{"pm25": 7.5}`))
	waitStored(t, st, "aq-tp-01", "pm25=7.5")

	// Another integrator's prefix: refused by the broker (MQTT 3.1.1
	// closes the connection), never reaches ingest, no report to anyone.
	env.c.Publish("ioc/v1/vms-tn/cam-bvtw-01/telemetry/extra", 1, false, []byte(`{"x": 1}`)).WaitTimeout(5 * time.Second)
	testenv.Eventually(t, 10*time.Second, func() error {
		if env.c.IsConnectionOpen() {
			return errors.New("a publish under another integrator's prefix did not close the MQTT 3.1.1 connection")
		}
		return nil
	})
	publish(t, vms.c, "ioc/v1/vms-tn/cam-bvtw-01/telemetry/extra", []byte(`{"x": 1}`))
	vms.expect(t, "ioc/v1/vms-tn/cam-bvtw-01/telemetry/extra", payload.ReasonBadTopic, "want ioc/v1/")
	env.none(t)
	vms.none(t)
}
