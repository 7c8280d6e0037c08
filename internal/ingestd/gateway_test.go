package ingestd_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/store/embedded"
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
