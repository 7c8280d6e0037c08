package alert

import (
	"errors"
	"fmt"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/registry"
)

// EventParams are an event rule's keys: one of Types raises at once; the
// alert clears ClearAfter after the last of them.
type EventParams struct {
	Types      []string `yaml:"types"`
	ClearAfter Dur      `yaml:"clear_after"` // default 15m
}

// event evaluates event rules. Its timer runs from the alert's LastAt,
// the last event, so nothing that moves UpdatedAt delays the clear.
type event struct{ noHooks }

func (event) validate(r *Rule) error {
	if len(r.Types) == 0 {
		return errors.New("an event rule needs types")
	}
	for _, typ := range r.Types {
		for _, lang := range languages {
			if _, ok := eventNames[lang][typ]; !ok {
				return fmt.Errorf("types: event type %q has no %s name; name it in internal/alert/words.go", typ, lang)
			}
		}
	}
	if r.ClearAfter == 0 {
		r.ClearAfter = Dur(15 * time.Minute)
	}
	if r.Measurement == "" {
		r.Measurement = "event"
	}
	return nil
}

func (event) observe(e *Engine, r *Rule, d *registry.Device, p *point.Point, now time.Time, out []Transition) []Transition {
	if p.Measurement != "event" {
		return out
	}
	typ, _ := p.Tag("type")
	if !contains(r.Types, typ) {
		return out
	}
	s := e.st(r, d)
	s.waitClear = false
	out = e.raise(out, s, typ, now)
	e.schedule(s, now.Add(time.Duration(r.ClearAfter)))
	return out
}

// due clears the alert ClearAfter after the last event.
func (event) due(e *Engine, s *ruleState, now time.Time, out []Transition) []Transition {
	if s.active() && !now.Before(s.alert.lastAt().Add(time.Duration(s.rule.ClearAfter))) {
		out = e.clear(out, s, nil, now)
	}
	return out
}

// restore arms the clear of an active alert, from its last event.
func (event) restore(e *Engine, s *ruleState, _ time.Time) {
	if s.active() {
		e.set(s, dueCondition, s.alert.lastAt().Add(time.Duration(s.rule.ClearAfter)))
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
