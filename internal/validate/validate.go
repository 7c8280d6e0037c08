// Package validate is the part of ingest's checks that needs nothing but
// the registry and the payload: whether a device is registered and owned
// by the integrator that sent its data, how a gateway's message is split
// by device, whether fields have their declared types, and the registry's
// tags on each point. The ingest pipeline runs it on every message; the
// IOC server runs the same checks for an integrator's "check a payload"
// without linking the pipeline.
package validate

import (
	"errors"
	"net/http"
	"time"

	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/registry"
)

// Validation is what a message would become: the points ingest would
// store, as line protocol with the registry's tags, and for a gateway's
// message the devices whose records would be refused.
type Validation struct {
	Topic   string    `json:"topic"`
	Points  []string  `json:"points"`
	Refused []Refusal `json:"refused,omitempty"`
}

// Refusal is one device's records of a gateway's message, refused.
type Refusal struct {
	Device string         `json:"device"`
	Points int            `json:"points"`
	Reason payload.Reason `json:"reason"`
	Error  string         `json:"error"`
}

// Checker checks messages against a registry. AcceptUnknown is ingest's
// discovery mode: an unknown device id is a placeholder, not a refusal.
type Checker struct {
	Limits        payload.Limits
	AcceptUnknown bool
}

// Message checks body on topic as ingest would (topic, registry and
// ownership, payload, declared field kinds, a gateway's devices) at time
// now, and stores, counts and reports nothing. The limits that depend on
// what was stored before (series and measurement counts, quotas) are not
// checked. It may run on any goroutine.
func (c Checker) Message(reg *registry.Registry, topic string, body []byte, now time.Time) (Validation, *payload.Error) {
	v := Validation{Topic: topic}
	t, pe := contract.ParseTopic(topic)
	if pe != nil {
		return v, pe
	}
	dev, pe := c.Device(reg, t.Integrator, t.Device)
	if pe != nil {
		return v, pe
	}
	parser := payload.NewParser(c.Limits)
	pts, err := parser.Parse(nil, t.Channel, t.Device, body, now)
	if err != nil {
		return v, AsPayloadError(err)
	}
	runs := []Run{{N: len(pts)}}
	if parser.Devices != nil {
		runs = GroupByDevice(pts, parser.Devices, t.Device)
	}
	var first *payload.Error
	at := 0
	for _, r := range runs {
		group := pts[at : at+r.N]
		at += r.N
		d, pe := c.Group(reg, t.Integrator, dev, r.ID, group)
		if pe != nil && parser.Devices == nil {
			return v, pe
		}
		if pe != nil {
			if first == nil {
				first = pe
			}
			v.Refused = append(v.Refused, Refusal{Device: r.ID, Points: r.N, Reason: pe.Reason, Error: pe.Detail})
			continue
		}
		Tag(group, d)
		for i := range group {
			v.Points = append(v.Points, string(point.AppendLine(nil, &group[i])))
		}
	}
	if len(v.Points) == 0 {
		return v, first
	}
	return v, nil
}

// Device is the registered device id of integrator's data, if the
// integrator owns it; in discovery mode an unknown id is a placeholder.
func (c Checker) Device(reg *registry.Registry, integrator, id string) (*registry.Device, *payload.Error) {
	dev, ok := reg.Device(id)
	if old, retired := reg.Lookup(id); !ok && retired && old.Integrator == integrator {
		return nil, payload.Errorf(payload.ReasonDeviceRetired,
			"device %q was retired on %s and its data is no longer taken; if it is back in service, ask the operations centre to bring it back",
			id, old.Retired.UTC().Format(time.RFC3339))
	}
	switch {
	case !ok && c.AcceptUnknown:
		return registry.Placeholder(id, integrator), nil
	case !ok:
		return nil, payload.Errorf(payload.ReasonUnknownDevice,
			"device %q is not registered; ask the operations centre to add it to the device registry", id)
	case dev.Integrator != integrator:
		return nil, payload.Errorf(payload.ReasonForeignDevice, "device %q is not registered to integrator %q", id, integrator)
	}
	return dev, nil
}

// Group is the device of a gateway's run of points (id; "" for the
// topic's device topicDev) and whether it may hold them: registered to
// the integrator, fields of the right kinds.
func (c Checker) Group(reg *registry.Registry, integrator string, topicDev *registry.Device, id string, group []point.Point) (*registry.Device, *payload.Error) {
	dev := topicDev
	if id != "" {
		if !registry.ValidDeviceID(id) {
			return nil, payload.Errorf(payload.ReasonUnknownDevice, "device id %q is not valid (1-64 of A-Z a-z 0-9 . _ -)", id)
		}
		var pe *payload.Error
		if dev, pe = c.Device(reg, integrator, id); pe != nil {
			return nil, pe
		}
	}
	return dev, Fields(reg, dev.Kind, group)
}

// Tag gives pts the registry's tags of dev.
func Tag(pts []point.Point, dev *registry.Device) {
	tags := dev.Tags()
	for i := range pts {
		pt := &pts[i]
		if len(pt.Tags) == 0 {
			pt.Tags = append(pt.Tags, tags...)
			continue
		}
		for _, tg := range tags {
			pt.SetTag(tg.Key, tg.Value)
		}
	}
}

// Run is a run of N points of one device, ID ("" the topic's).
type Run struct {
	ID string
	N  int
}

// GroupByDevice reorders pts, whose devices are names (parallel; ""
// or topicDevice for the topic's), so that each device's points are
// contiguous, devices in order of first appearance, and returns the runs.
func GroupByDevice(pts []point.Point, names []string, topicDevice string) []Run {
	var runs []Run
	idx := map[string]int{}
	for _, id := range names {
		if id == topicDevice {
			id = ""
		}
		i, ok := idx[id]
		if !ok {
			i = len(runs)
			idx[id] = i
			runs = append(runs, Run{ID: id})
		}
		runs[i].N++
	}
	next := make([]int, len(runs)) // where each run's next point goes
	for i := 1; i < len(runs); i++ {
		next[i] = next[i-1] + runs[i-1].N
	}
	sorted := make([]point.Point, len(pts))
	for i, id := range names {
		if id == topicDevice {
			id = ""
		}
		r := idx[id]
		sorted[next[r]] = pts[i]
		next[r]++
	}
	copy(pts, sorted) // a permutation: every point keeps its own slices
	return runs
}

// AsPayloadError is err, which Parse returns as a *payload.Error.
func AsPayloadError(err error) *payload.Error {
	var pe *payload.Error
	if !errors.As(err, &pe) {
		pe = payload.Errorf(payload.ReasonMalformedJSON, "%v", err)
	}
	return pe
}

// HTTPStatus maps a refusal reason onto the HTTP status ingest answers.
func HTTPStatus(r payload.Reason) int {
	switch r {
	case payload.ReasonTooLarge:
		return http.StatusRequestEntityTooLarge
	case payload.ReasonUnknownDevice, payload.ReasonBadTopic, payload.ReasonUnknownChannel:
		return http.StatusNotFound
	case payload.ReasonForeignDevice:
		return http.StatusForbidden
	case payload.ReasonDeviceRetired:
		return http.StatusGone
	}
	return http.StatusUnprocessableEntity
}
