package ingestd_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/payload"
)

// TestOldEventsRaiseNoAlert (integrator review: "events and statuses
// stamped 9 days ago raise critical alerts now"): a tamper event and an
// offline status stamped nine days ago are stored, raise nothing, and the
// integrator is told why on _errors (too_old_for_alerts); the same event
// stamped now raises the alert at once.
func TestOldEventsRaiseNoAlert(t *testing.T) {
	c := testConfig(t)
	c.Broker.AllowAnonymous = false
	ing := startIngest(t, c, nil)
	w := watchWall(t, ing.BrokerURL)
	vms := connectTenant(t, ing.BrokerURL, "vms-tn")

	old := time.Now().Add(-9 * 24 * time.Hour).UnixMilli()
	for _, m := range []struct{ topic, body, measurement string }{
		{"ioc/v1/vms-tn/cam-bvtw-01/event", fmt.Sprintf(`{"ts": %d, "type": "tamper"}`, old), "event"},
		{"ioc/v1/vms-tn/cam-bvtw-03/status", fmt.Sprintf(`{"ts": %d, "state": "offline"}`, old), "status"},
	} {
		publish(t, vms.c, m.topic, []byte(m.body))
		vms.expect(t, m.topic, payload.ReasonTooOldForAlerts, "a "+m.measurement+" stamped ")
	}
	publish(t, vms.c, "ioc/v1/vms-tn/cam-bvtw-02/event", []byte(`{"type": "tamper"}`))
	// The wall hears alerts in the order the engine saw the messages:
	// by cam-bvtw-02's alert, any from the old ones would have come.
	w.event(alert.Raised, "camera-tamper/cam-bvtw-02", 15*time.Second)
	for _, id := range []string{"camera-tamper/cam-bvtw-01", "device-offline/cam-bvtw-03"} {
		if n := w.count(alert.Raised, id); n != 0 {
			t.Errorf("%s raised by data stamped nine days ago", id)
		}
	}
	vms.none(t)
}
