package alert

import (
	"errors"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/registry"
)

// StuckParams are a stuck rule's keys: it raises when a field reports
// exactly the same value for longer than For (a frozen sensor); any
// change clears it.
type StuckParams struct {
	For Dur `yaml:"for"`
}

// stuck evaluates stuck rules. Its state: last (the value) and raiseSince
// (when that value first came); held once it came twice, which makes its
// window worth saving.
type stuck struct{ noHooks }

func (stuck) validate(r *Rule) error {
	if r.Field == "" || r.For <= 0 {
		return errors.New("a stuck rule needs field and for")
	}
	return nil
}

func (stuck) observe(e *Engine, r *Rule, d *registry.Device, p *point.Point, now time.Time, out []Transition) []Transition {
	if p.Measurement != r.Measurement {
		return out
	}
	if f, ok := p.Field(r.Field); ok {
		out = e.stuck(out, e.st(r, d), f, now)
	}
	return out
}

// stuck tracks how long a field has kept exactly one value; raiseSince is
// when that value first came.
func (e *Engine) stuck(out []Transition, s *ruleState, f point.Field, now time.Time) []Transition {
	if s.raiseSince.IsZero() || !f.Equal(s.last) {
		if s.active() {
			out = e.clear(out, s, f.Value(), now)
		}
		if s.held { // a saved window ended
			s.held = false
			e.touch(s)
		}
		s.last, s.raiseSince = f, now
		e.schedule(s, now.Add(time.Duration(s.rule.For)))
		return out
	}
	if !s.held { // the same value again: its window is worth saving
		s.held = true
		e.touch(s)
	}
	if !s.active() && !now.Before(s.raiseSince.Add(time.Duration(s.rule.For))) {
		return e.raise(out, s, f.Value(), now)
	}
	return out
}

// due raises once the value has not changed for For, with no reading since.
func (stuck) due(e *Engine, s *ruleState, now time.Time, out []Transition) []Transition {
	if !s.active() && !s.raiseSince.IsZero() && !now.Before(s.raiseSince.Add(time.Duration(s.rule.For))) {
		out = e.raise(out, s, s.last.Value(), now)
	}
	return out
}

func (stuck) window(s *ruleState) (time.Time, bool) {
	if s.held {
		return s.raiseSince, false
	}
	return time.Time{}, false
}

func (stuck) restoreWindow(e *Engine, s *ruleState, w Window, now time.Time) {
	s.raiseSince, s.last, s.held, s.savedSince = w.Since, w.Last, true, w.Since
	if due := w.Since.Add(time.Duration(s.rule.For)); !s.active() && due.After(now) {
		e.schedule(s, due)
	}
}
