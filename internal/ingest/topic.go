package ingest

import (
	"strings"

	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/registry"
)

// Topic tree of the integrator contract.
const (
	// TopicPrefix starts every device topic: ioc/v1/<integrator>/<device>/<channel>.
	TopicPrefix = "ioc/v1/"
)

// SubscribeFilters receive every topic under ioc/v1/, so that a message on a
// malformed topic is refused with a reason rather than silently unheard.
// The pipeline skips the ioc/v1/<integrator>/_errors topics it publishes.
// (ioc/v1/+/+/+/# would be narrower, but not every broker lets # match zero
// levels.)
func SubscribeFilters() []string { return []string{"ioc/v1/#"} }

// isErrorsTopic reports whether topic is an ioc/v1/<integrator>/_errors topic.
func isErrorsTopic(topic string) bool {
	rest, ok := strings.CutPrefix(topic, TopicPrefix)
	if !ok {
		return false
	}
	i := strings.IndexByte(rest, '/')
	return i >= 0 && rest[i+1:] == "_errors"
}

// ErrorsTopic is where integrator's rejections are published.
func ErrorsTopic(integrator string) string { return TopicPrefix + integrator + "/_errors" }

// Topic is a parsed device topic.
type Topic struct {
	Integrator string
	Device     string
	Channel    payload.Channel
}

// ParseTopic splits ioc/v1/<integrator>/<device>/<channel>. On error the
// fields that could be read are still set, so the rejection can be routed.
// It runs for every message, so it neither allocates nor uses regexps.
func ParseTopic(topic string) (Topic, *payload.Error) {
	var t Topic
	rest, ok := strings.CutPrefix(topic, TopicPrefix)
	if !ok {
		return t, payload.Errorf(payload.ReasonBadTopic, "topic %q does not start with %s", topic, TopicPrefix)
	}
	integrator, rest, _ := strings.Cut(rest, "/")
	if registry.ValidIntegratorID(integrator) {
		t.Integrator = integrator
	}
	device, channel, ok := strings.Cut(rest, "/")
	if !ok || strings.IndexByte(channel, '/') >= 0 {
		return t, payload.Errorf(payload.ReasonBadTopic, "topic %q: want ioc/v1/<integrator>/<device_id>/<telemetry|status|event>", topic)
	}
	if t.Integrator == "" {
		return t, payload.Errorf(payload.ReasonBadTopic, "topic %q: integrator %q is not a valid id", topic, integrator)
	}
	if !registry.ValidDeviceID(device) {
		return t, payload.Errorf(payload.ReasonBadTopic, "topic %q: device id %q is not valid (1-64 of A-Z a-z 0-9 . _ -)", topic, device)
	}
	t.Device = device
	switch c := payload.Channel(channel); c {
	case payload.Telemetry, payload.Status, payload.Event:
		t.Channel = c
	default:
		return t, payload.Errorf(payload.ReasonUnknownChannel, "channel %q is not one of telemetry, status, event", channel)
	}
	return t, nil
}
