package contract

import (
	"fmt"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
)

// Measurements of the alert history in the time-series store
// (docs/ALERTS.md "State and history").
const (
	AlertMeasurement       = "alert"
	MaintenanceMeasurement = "maintenance"
)

// History is one alert or maintenance transition as the alert service
// writes it to the store and the IOC server reads it back. Exactly one of
// Alert and Maintenance is set.
type History struct {
	At          time.Time
	Transition  string // an alert.TransitionKind: raised, acked, resolved, ...
	Seq         uint64 // its sequence number on EventsTopic
	By, Note    string
	Alert       *AlertHistory
	Maintenance *MaintenanceHistory
}

// AlertHistory is the alert as it was at the transition.
type AlertHistory struct {
	ID, Device, District, Rule, Severity, State string
	// RuleKind is the rule's kind (silence, threshold, ...): availability
	// counts a silence alert as the device being offline. Empty in
	// history written before it was recorded.
	RuleKind string
	// Value is the alert's value as text.
	Value                string
	MessageVI, MessageEN string
	Parent               string
	// AckVia names the alert it was acknowledged with (it was folded
	// under it); only on acked transitions.
	AckVia string
	// Assignee is who had the alert (user:<name> or team:<id>) at a
	// dispatch transition.
	Assignee string
	// Photo is the id of the photo of the fix, on a fixed transition
	// that has one (the IOC server keeps the photo).
	Photo        string
	Count, Flaps int
	Suppressed   bool
}

// MaintenanceHistory is the window as it was at the transition. Until and
// Since are stored to the second.
type MaintenanceHistory struct {
	Target       string
	Until, Since time.Time
}

// Point is h as a point: measurement alert (tags device, district, rule,
// severity, transition; fields event_seq, id, rule_kind, state, value,
// message_vi, message_en, parent, ack_via, assignee, photo, count, flaps,
// suppressed, by, note) or
// maintenance (tags target, transition; fields event_seq, until, since,
// by, note), at the transition's time. Empty text fields are left out.
func (h *History) Point() point.Point {
	p := point.Point{Time: h.At}
	p.SetTag("transition", h.Transition)
	add := func(k, v string) {
		if v != "" {
			p.Fields = append(p.Fields, point.StringField(k, v))
		}
	}
	p.Fields = append(p.Fields, point.IntField("event_seq", int64(h.Seq)))
	add("by", h.By)
	add("note", h.Note)
	if m := h.Maintenance; m != nil {
		p.Measurement = MaintenanceMeasurement
		p.SetTag("target", m.Target)
		if !m.Until.IsZero() {
			add("until", m.Until.UTC().Format(time.RFC3339))
		}
		add("since", m.Since.UTC().Format(time.RFC3339))
		return p
	}
	a := h.Alert
	if a == nil {
		a = &AlertHistory{}
	}
	p.Measurement = AlertMeasurement
	p.SetTag("device", a.Device)
	p.SetTag("district", a.District)
	p.SetTag("rule", a.Rule)
	p.SetTag("severity", a.Severity)
	add("id", a.ID)
	add("rule_kind", a.RuleKind)
	add("state", a.State)
	add("value", a.Value)
	add("message_vi", a.MessageVI)
	add("message_en", a.MessageEN)
	add("parent", a.Parent)
	add("ack_via", a.AckVia)
	add("assignee", a.Assignee)
	add("photo", a.Photo)
	p.Fields = append(p.Fields, point.IntField("count", int64(a.Count)), point.IntField("flaps", int64(a.Flaps)),
		point.BoolField("suppressed", a.Suppressed))
	return p
}

// ParseHistory reads a point written by History.Point back. A store may
// return integer fields as floats; both are read.
func ParseHistory(p *point.Point) (History, error) {
	h := History{At: p.Time}
	h.Transition, _ = p.Tag("transition")
	h.Seq = uint64(intField(p, "event_seq"))
	h.By = stringField(p, "by")
	h.Note = stringField(p, "note")
	switch p.Measurement {
	case MaintenanceMeasurement:
		m := &MaintenanceHistory{}
		m.Target, _ = p.Tag("target")
		var err error
		if m.Until, err = timeField(p, "until"); err != nil {
			return h, err
		}
		if m.Since, err = timeField(p, "since"); err != nil {
			return h, err
		}
		h.Maintenance = m
	case AlertMeasurement:
		a := &AlertHistory{}
		a.Device, _ = p.Tag("device")
		a.District, _ = p.Tag("district")
		a.Rule, _ = p.Tag("rule")
		a.Severity, _ = p.Tag("severity")
		a.ID = stringField(p, "id")
		a.RuleKind = stringField(p, "rule_kind")
		a.State = stringField(p, "state")
		a.Value = stringField(p, "value")
		a.MessageVI = stringField(p, "message_vi")
		a.MessageEN = stringField(p, "message_en")
		a.Parent = stringField(p, "parent")
		a.AckVia = stringField(p, "ack_via")
		a.Assignee = stringField(p, "assignee")
		a.Photo = stringField(p, "photo")
		a.Count = int(intField(p, "count"))
		a.Flaps = int(intField(p, "flaps"))
		if f, ok := p.Field("suppressed"); ok && f.Kind == point.Bool {
			a.Suppressed = f.B
		}
		h.Alert = a
	default:
		return h, fmt.Errorf("history: measurement %q is neither %s nor %s", p.Measurement, AlertMeasurement, MaintenanceMeasurement)
	}
	return h, nil
}

func stringField(p *point.Point, key string) string {
	if f, ok := p.Field(key); ok && f.Kind == point.String {
		return f.S
	}
	return ""
}

func intField(p *point.Point, key string) int64 {
	f, ok := p.Field(key)
	switch {
	case !ok:
		return 0
	case f.Kind == point.Int:
		return f.I
	case f.Kind == point.Float:
		return int64(f.F)
	}
	return 0
}

func timeField(p *point.Point, key string) (time.Time, error) {
	s := stringField(p, key)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("history: field %s: %w", key, err)
	}
	return t, nil
}
