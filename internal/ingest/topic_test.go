package ingest

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
	}
	f("ioc/v1/vms-tn/cam-01/status", Topic{"vms-tn", "cam-01", payload.Status}, "")
	f("ioc/v1/vms-tn/cam.01_a-b/telemetry", Topic{"vms-tn", "cam.01_a-b", payload.Telemetry}, "")
	f("ioc/v1/vms-tn/cam-01/video", Topic{Integrator: "vms-tn", Device: "cam-01"}, payload.ReasonUnknownChannel)
	f("ioc/v1/vms-tn/cam-01/status/x", Topic{Integrator: "vms-tn"}, payload.ReasonBadTopic)
	f("ioc/v1/vms-tn/cam-01", Topic{Integrator: "vms-tn"}, payload.ReasonBadTopic)
	f("ioc/v1/VMS/cam-01/status", Topic{}, payload.ReasonBadTopic)
	f("ioc/v1/vms-tn/-cam/status", Topic{Integrator: "vms-tn"}, payload.ReasonBadTopic)
	f("ioc/v2/vms-tn/cam-01/status", Topic{}, payload.ReasonBadTopic)
	f("ioc/v1/vms-tn//status", Topic{Integrator: "vms-tn"}, payload.ReasonBadTopic)
	if !isErrorsTopic("ioc/v1/acme/_errors") || isErrorsTopic("ioc/v1/acme/cam/_errors") || isErrorsTopic("x/acme/_errors") {
		t.Fatal("isErrorsTopic")
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
		if rebuilt := TopicPrefix + got.Integrator + "/" + got.Device + "/" + string(got.Channel); rebuilt != topic {
			t.Fatalf("ParseTopic(%q) = %+v, which is %q", topic, got, rebuilt)
		}
		if strings.ContainsAny(got.Device, "+#/ ") || strings.ContainsAny(got.Integrator, "+#/ ") {
			t.Fatalf("ParseTopic(%q) accepted a wildcard or separator: %+v", topic, got)
		}
	})
}
