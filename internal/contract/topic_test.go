package contract

import (
	"strings"
	"testing"

	"github.com/ioc-vn/ioc/internal/payload"
)

func TestParseTopic(t *testing.T) {
	f := func(topic string, want Topic, reason payload.Reason) {
		t.Helper()
		got, err := ParseTopic(topic)
		if reason == "" && err != nil || reason != "" && (err == nil || err.Reason != reason) {
			t.Fatalf("ParseTopic(%q) error %v, want reason %q", topic, err, reason)
		}
		if got != want {
			t.Fatalf("ParseTopic(%q) = %+v, want %+v", topic, got, want)
		}
		if reason == "" && got.String() != topic {
			t.Fatalf("ParseTopic(%q).String() = %q", topic, got.String())
		}
	}
	f("ioc/v1/vms-tn/cam-01/status", Topic{"vms-tn", "cam-01", payload.Status}, "")
	f("ioc/v1/vms-tn/cam.01_a-b/telemetry", Topic{"vms-tn", "cam.01_a-b", payload.Telemetry}, "")
	f("ioc/v1/envsense/aq-01/event", Topic{"envsense", "aq-01", payload.Event}, "")
	f("ioc/v1/vms-tn/cam-01/video", Topic{Integrator: "vms-tn", Device: "cam-01"}, payload.ReasonUnknownChannel)
	f("ioc/v1/vms-tn/cam-01/status/x", Topic{Integrator: "vms-tn"}, payload.ReasonBadTopic)
	f("ioc/v1/vms-tn/cam-01", Topic{Integrator: "vms-tn"}, payload.ReasonBadTopic)
	f("ioc/v1/VMS/cam-01/status", Topic{}, payload.ReasonBadTopic)
	f("ioc/v1/vms-tn/-cam/status", Topic{Integrator: "vms-tn"}, payload.ReasonBadTopic)
	f("ioc/v2/vms-tn/cam-01/status", Topic{}, payload.ReasonBadTopic)
	f("ioc/v1/vms-tn//status", Topic{Integrator: "vms-tn"}, payload.ReasonBadTopic)
	f("ioc/v1/vms-tn/_errors", Topic{Integrator: "vms-tn"}, payload.ReasonBadTopic)
}

func TestTopicNames(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{DeviceTopic("vms-tn", "cam-01", "status"), "ioc/v1/vms-tn/cam-01/status"},
		{ErrorsTopic("vms-tn"), "ioc/v1/vms-tn/_errors"},
		{DeviceFilter, "ioc/v1/#"},
		{AllErrorsFilter, "ioc/v1/+/_errors"},
		{IntegratorFilter("vms-tn"), "ioc/v1/vms-tn/#"},
		{IntegratorDevicesFilter("vms-tn"), "ioc/v1/vms-tn/+/+"},
		{DeviceChannelsFilter("vms-tn", "cam-01"), "ioc/v1/vms-tn/cam-01/+"},
		{AlertTopic("device-offline/cam-01"), "ioc/server/v1/alerts/device-offline/cam-01"},
		{DeviceStateTopic("cam-01"), "ioc/server/v1/devices/cam-01"},
		{MaintenanceTopic("district:d1"), "ioc/server/v1/maintenance/district:d1"},
		{EventsTopic, "ioc/server/v1/events"},
		{CommandsTopic, "ioc/server/v1/commands"},
		{ResultsTopic, "ioc/server/v1/command-results"},
		{ObservationsFilter, "ioc/server/v1/observations/+"},
		{SyncFilter, "ioc/server/v1/sync/+"},
		{IngestSyncFilter, "ioc/server/v1/sync/ingest/+"},
		{RevokedFilter, "ioc/server/v1/sessions/revoked/+"},
		{ServerFilter, "ioc/server/v1/#"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestIsErrorsTopic(t *testing.T) {
	for topic, want := range map[string]bool{
		"ioc/v1/acme/_errors":      true,
		ErrorsTopic("vms-tn"):      true,
		"ioc/v1/acme/cam/_errors":  false,
		"x/acme/_errors":           false,
		"ioc/v1/acme/cam/status":   false,
		"ioc/v1/_errors":           false,
		"ioc/server/v1/a/_errors":  false,
		"ioc/v1/acme/_errors/more": false,
	} {
		if got := IsErrorsTopic(topic); got != want {
			t.Errorf("IsErrorsTopic(%q) = %v, want %v", topic, got, want)
		}
	}
}

// FuzzParseTopic: any topic either parses into valid ids and a known
// channel that rebuild the same topic, or is refused with a topic reason.
func FuzzParseTopic(f *testing.F) {
	for _, s := range []string{"ioc/v1/vms-tn/cam-01/status", "ioc/v1/a/b/c/d", "ioc/v1/", "ioc/v1/a//telemetry", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		got, err := ParseTopic(topic)
		if err != nil {
			if err.Reason != payload.ReasonBadTopic && err.Reason != payload.ReasonUnknownChannel {
				t.Fatalf("ParseTopic(%q): reason %s", topic, err.Reason)
			}
			return
		}
		if rebuilt := DevicePrefix + got.Integrator + "/" + got.Device + "/" + string(got.Channel); rebuilt != topic {
			t.Fatalf("ParseTopic(%q) = %+v, which is %q", topic, got, rebuilt)
		}
		if strings.ContainsAny(got.Device, "+#/ ") || strings.ContainsAny(got.Integrator, "+#/ ") {
			t.Fatalf("ParseTopic(%q) accepted a wildcard or separator: %+v", topic, got)
		}
	})
}
