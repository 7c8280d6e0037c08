package contract

import (
	"strings"
	"time"

	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/registry"
)

// DevicePrefix starts every device topic: ioc/v1/<integrator>/<device>/<channel>.
const DevicePrefix = "ioc/v1/"

// errorsLevel is the last level of an integrator's rejections topic.
const errorsLevel = "_errors"

// DeviceFilter receives every topic under ioc/v1/, so that a message on a
// malformed topic is refused with a reason rather than silently unheard.
// The pipeline skips the ioc/v1/<integrator>/_errors topics it publishes.
// (ioc/v1/+/+/+/# would be narrower, but not every broker lets # match zero
// levels.)
const DeviceFilter = DevicePrefix + "#"

// AllErrorsFilter matches every integrator's rejections topic.
const AllErrorsFilter = DevicePrefix + "+/" + errorsLevel

// DeviceTopic is ioc/v1/<integrator>/<device>/<channel>. It does not
// check its parts; ParseTopic does.
func DeviceTopic(integrator, device, channel string) string {
	return DevicePrefix + integrator + "/" + device + "/" + channel
}

// ErrorsTopic is where integrator's rejections are published.
func ErrorsTopic(integrator string) string { return DevicePrefix + integrator + "/" + errorsLevel }

// IsErrorsTopic reports whether topic is an ioc/v1/<integrator>/_errors topic.
func IsErrorsTopic(topic string) bool {
	_, ok := ErrorsIntegrator(topic)
	return ok
}

// ErrorsIntegrator is the integrator of an ioc/v1/<integrator>/_errors
// topic, and whether topic is one.
func ErrorsIntegrator(topic string) (string, bool) {
	rest, ok := strings.CutPrefix(topic, DevicePrefix)
	if !ok {
		return "", false
	}
	i := strings.IndexByte(rest, '/')
	if i < 0 || rest[i+1:] != errorsLevel {
		return "", false
	}
	return rest[:i], true
}

// ErrorReport is what an integrator receives on
// ioc/v1/<integrator>/_errors when a message is refused (or stored with a
// notice). The JSON field names are part of the contract
// (schemas/report.schema.json).
type ErrorReport struct {
	Time        time.Time      `json:"ts"`
	Topic       string         `json:"topic"`
	Device      string         `json:"device,omitempty"`
	Channel     string         `json:"channel,omitempty"`
	Reason      payload.Reason `json:"reason"`
	Error       string         `json:"error"`
	PayloadSize int            `json:"payload_bytes"`
	PayloadHead string         `json:"payload_head,omitempty"`
}

// IntegratorFilter matches every topic of integrator's tree,
// ioc/v1/<integrator>/#: what its accounts may subscribe within.
func IntegratorFilter(integrator string) string { return DevicePrefix + integrator + "/#" }

// IntegratorDevicesFilter matches every device topic of integrator,
// ioc/v1/<integrator>/+/+: what an integrator account may publish to.
func IntegratorDevicesFilter(integrator string) string { return DevicePrefix + integrator + "/+/+" }

// DeviceChannelsFilter matches the channels of one device,
// ioc/v1/<integrator>/<device>/+: what a device account may publish to.
func DeviceChannelsFilter(integrator, device string) string {
	return DevicePrefix + integrator + "/" + device + "/+"
}

// Topic is a parsed device topic.
type Topic struct {
	Integrator string
	Device     string
	Channel    payload.Channel
}

// String rebuilds the topic.
func (t Topic) String() string { return DeviceTopic(t.Integrator, t.Device, string(t.Channel)) }

// ParseTopic splits ioc/v1/<integrator>/<device>/<channel>. On error the
// fields that could be read are still set, so the rejection can be routed.
// It runs for every message, so it neither allocates nor uses regexps.
func ParseTopic(topic string) (Topic, *payload.Error) {
	var t Topic
	rest, ok := strings.CutPrefix(topic, DevicePrefix)
	if !ok {
		return t, payload.Errorf(payload.ReasonBadTopic, "topic %q does not start with %s", topic, DevicePrefix)
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
