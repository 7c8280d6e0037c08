package ingest

import (
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/point"
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

// Validate checks body on topic as the pipeline would (topic, registry
// and ownership, payload, declared field kinds, a gateway's devices) and
// stores, counts and reports nothing. The limits that depend on what was
// stored before (series and measurement counts, quotas) are not checked.
// It may run on any goroutine.
func (p *Pipeline) Validate(topic string, body []byte) (Validation, *payload.Error) {
	v := Validation{Topic: topic}
	t, pe := contract.ParseTopic(topic)
	if pe != nil {
		return v, pe
	}
	reg := p.registry.Load()
	dev, pe := p.device(reg, t.Integrator, t.Device)
	if pe != nil {
		return v, pe
	}
	parser := payload.NewParser(p.o.Limits)
	pts, err := parser.Parse(nil, t.Channel, t.Device, body, p.now())
	if err != nil {
		return v, asPayloadError(err)
	}
	runs := []deviceRun{{n: len(pts)}}
	if parser.Devices != nil {
		runs = groupByDevice(pts, parser.Devices, t.Device)
	}
	var first *payload.Error
	at := 0
	for _, r := range runs {
		group := pts[at : at+r.n]
		at += r.n
		d, pe := p.checkGroup(reg, t.Integrator, dev, r.id, group)
		if pe != nil && parser.Devices == nil {
			return v, pe
		}
		if pe != nil {
			if first == nil {
				first = pe
			}
			v.Refused = append(v.Refused, Refusal{Device: r.id, Points: r.n, Reason: pe.Reason, Error: pe.Detail})
			continue
		}
		tagPoints(group, d)
		for i := range group {
			v.Points = append(v.Points, string(point.AppendLine(nil, &group[i])))
		}
	}
	if len(v.Points) == 0 {
		return v, first
	}
	return v, nil
}
