package alert

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/registry"
)

// ThresholdParams are a threshold rule's keys: a field compared with a
// value, held for a duration, with a separate clear condition
// (hysteresis). Status conditions are thresholds on the status
// measurement.
type ThresholdParams struct {
	Raise *Condition `yaml:"raise"`
	Clear *Condition `yaml:"clear"` // default: the raise condition no longer holds
}

// Condition compares a field with a value: a number, true/false, a string,
// or "profile.fps" / "profile.bitrate_kbps" times Factor.
type Condition struct {
	Op     string  `yaml:"op"` // > >= < <= == !=
	Value  any     `yaml:"value"`
	Factor float64 `yaml:"factor"` // with a profile value; default 1
	For    Dur     `yaml:"for"`    // must hold this long
}

// threshold evaluates threshold rules. Its state: raiseSince (the raise
// condition holds since), clearSince (the clear condition of the active
// alert holds since), last (the reading that counts).
type threshold struct{ noHooks }

func (threshold) validate(r *Rule) error {
	if r.Field == "" || r.Raise == nil {
		return errors.New("a threshold rule needs field and raise")
	}
	if err := r.Raise.validate("raise"); err != nil {
		return err
	}
	if r.Clear == nil { // clear as soon as the raise condition no longer holds
		r.Clear = &Condition{Op: negate[r.Raise.Op], Value: r.Raise.Value, Factor: r.Raise.Factor}
	}
	return r.Clear.validate("clear")
}

// observe evaluates a reading and queues the rule's window for saving
// when the window opened, closed or turned.
func (threshold) observe(e *Engine, r *Rule, d *registry.Device, p *point.Point, now time.Time, out []Transition) []Transition {
	if p.Measurement != r.Measurement {
		return out
	}
	f, ok := p.Field(r.Field)
	if !ok {
		return out
	}
	s := e.st(r, d)
	rs, cs := s.raiseSince, s.clearSince
	out = e.evalThreshold(out, s, f, now)
	if !s.raiseSince.Equal(rs) || !s.clearSince.Equal(cs) {
		e.touch(s)
	}
	return out
}

func (e *Engine) evalThreshold(out []Transition, s *ruleState, f point.Field, now time.Time) []Transition {
	r := s.rule
	s.last = f
	if !s.active() {
		s.clearSince = time.Time{}
		if !holds(r.Raise, f, s.dev) {
			s.raiseSince, s.waitClear = time.Time{}, false
			return out
		}
		if s.waitClear {
			return out
		}
		if !e.held(s, &s.raiseSince, r.Raise, now) {
			return out
		}
		return e.raise(out, s, f.Value(), now)
	}
	s.raiseSince = time.Time{}
	if !holds(r.Clear, f, s.dev) {
		s.clearSince = time.Time{}
		if a := s.alert; !sameValue(a.Value, f) {
			a.Value = f.Value() // still active: keep the latest value on the wall
		}
		return out
	}
	if !e.held(s, &s.clearSince, r.Clear, now) {
		return out
	}
	return e.clear(out, s, f.Value(), now)
}

// due raises or clears once the condition that was holding has held long
// enough with no reading in between.
func (threshold) due(e *Engine, s *ruleState, now time.Time, out []Transition) []Transition {
	switch {
	case !s.active() && !s.raiseSince.IsZero() && !now.Before(s.raiseSince.Add(time.Duration(s.rule.Raise.For))):
		out = e.raise(out, s, s.last.Value(), now)
	case s.active() && !s.clearSince.IsZero() && !now.Before(s.clearSince.Add(time.Duration(s.rule.Clear.For))):
		out = e.clear(out, s, s.last.Value(), now)
	}
	return out
}

func (threshold) window(s *ruleState) (time.Time, bool) {
	if s.active() {
		return s.clearSince, true
	}
	return s.raiseSince, false
}

func (threshold) restoreWindow(e *Engine, s *ruleState, w Window, now time.Time) {
	if w.Clear != s.active() {
		return
	}
	var due time.Time
	if w.Clear {
		s.clearSince = w.Since
		due = w.Since.Add(time.Duration(s.rule.Clear.For))
	} else {
		s.raiseSince = w.Since
		due = w.Since.Add(time.Duration(s.rule.Raise.For))
	}
	s.last, s.savedSince, s.savedClear = w.Last, w.Since, w.Clear
	if due.After(now) {
		e.schedule(s, due)
	}
}

// sameValue reports whether v already holds f's value (so that keeping
// the latest value does not allocate while it does not change).
func sameValue(v any, f point.Field) bool {
	switch x := v.(type) {
	case float64:
		return f.Kind == point.Float && f.F == x
	case int64:
		return f.Kind == point.Int && f.I == x
	case string:
		return f.Kind == point.String && f.S == x
	case bool:
		return f.Kind == point.Bool && f.B == x
	}
	return false
}

// held notes that c holds at now, counting from *since (set now if it was
// not counting), and reports whether c has held for c.For; if not yet, it
// schedules the moment it will have, for Tick.
func (e *Engine) held(s *ruleState, since *time.Time, c *Condition, now time.Time) bool {
	if since.IsZero() {
		*since = now
	}
	if due := since.Add(time.Duration(c.For)); now.Before(due) {
		e.schedule(s, due)
		return false
	}
	return true
}

var ops = map[string]bool{">": true, ">=": true, "<": true, "<=": true, "==": true, "!=": true}

var negate = map[string]string{">": "<=", ">=": "<", "<": ">=", "<=": ">", "==": "!=", "!=": "=="}

func (c *Condition) validate(what string) error {
	if !ops[c.Op] {
		return fmt.Errorf("%s.op %q: use one of > >= < <= == !=", what, c.Op)
	}
	switch v := c.Value.(type) {
	case int, float64:
	case bool, string:
		if s, ok := v.(string); ok && strings.HasPrefix(s, "profile.") {
			if s != "profile.fps" && s != "profile.bitrate_kbps" {
				return fmt.Errorf("%s.value %q: profile.fps or profile.bitrate_kbps", what, s)
			}
			if c.Op == "==" || c.Op == "!=" {
				return fmt.Errorf("%s: compare a profile value with < <= > >=", what)
			}
			break
		}
		if c.Op != "==" && c.Op != "!=" {
			return fmt.Errorf("%s: %v can only be compared with == or !=", what, v)
		}
	case nil:
		return fmt.Errorf("%s.value is missing", what)
	default:
		return fmt.Errorf("%s.value %v: a number, true/false, a string or profile.fps", what, v)
	}
	if c.Factor == 0 {
		c.Factor = 1
	}
	return nil
}

func holds(c *Condition, f point.Field, d *registry.Device) bool {
	switch want := c.Value.(type) {
	case bool:
		return f.Kind == point.Bool && (f.B == want) == (c.Op == "==")
	case string:
		if want == "profile.fps" || want == "profile.bitrate_kbps" {
			if d.Profile == nil || (f.Kind != point.Float && f.Kind != point.Int) {
				return false
			}
			ref := d.Profile.FPS
			if want == "profile.bitrate_kbps" {
				ref = d.Profile.BitrateKbps
			}
			return compare(num(f), c.Op, ref*c.Factor)
		}
		return f.Kind == point.String && (f.S == want) == (c.Op == "==")
	case int:
		return (f.Kind == point.Float || f.Kind == point.Int) && compare(num(f), c.Op, float64(want)*c.Factor)
	case float64:
		return (f.Kind == point.Float || f.Kind == point.Int) && compare(num(f), c.Op, want*c.Factor)
	}
	return false
}

func compare(v float64, op string, ref float64) bool {
	switch op {
	case ">":
		return v > ref
	case ">=":
		return v >= ref
	case "<":
		return v < ref
	case "<=":
		return v <= ref
	case "==":
		return v == ref
	case "!=":
		return v != ref
	}
	return false
}

func num(f point.Field) float64 {
	if f.Kind == point.Int {
		return float64(f.I)
	}
	return f.F
}
