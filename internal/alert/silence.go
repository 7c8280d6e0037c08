package alert

import (
	"errors"
	"fmt"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/registry"
)

// SilenceParams are a silence rule's keys: no message of the measurement
// for longer than the device's timeout (offline), or a status that says
// state=offline. Its alerts are the ones root cause folds (fold.go).
type SilenceParams struct {
	// Timeouts per device kind; a device's own timeout wins.
	Timeouts map[string]Dur `yaml:"timeouts"`
	// Mass: the district outage. When at least Fraction of a district's
	// devices (and at least MinDevices) are offline, one district alert,
	// with theirs folded under it.
	Mass Mass `yaml:"mass"`
}

// Mass configures district outage alerts; defaults 0.5 and 5.
type Mass struct {
	Fraction   float64 `yaml:"fraction"`
	MinDevices int     `yaml:"min_devices"`
	Off        bool    `yaml:"off"`
}

// silence evaluates silence rules. Its state: lastSeen, the last message
// (zero while the device is known to be offline), and the silence
// deadline one timeout after it.
type silence struct{}

func (silence) validate(r *Rule) error {
	if len(r.Timeouts) == 0 {
		return errors.New("a silence rule needs timeouts per device kind")
	}
	for k, d := range r.Timeouts {
		if registry.Kind(k) != registry.Camera && registry.Kind(k) != registry.NVR && registry.Kind(k) != registry.Sensor && registry.Kind(k) != registry.Gateway {
			return fmt.Errorf("timeouts: %q is not camera, nvr, sensor or gateway", k)
		}
		if d <= 0 {
			return fmt.Errorf("timeouts.%s must be positive", k)
		}
	}
	if r.Mass.Fraction == 0 {
		r.Mass.Fraction = 0.5
	}
	if r.Mass.MinDevices == 0 {
		r.Mass.MinDevices = 5
	}
	if r.Mass.Fraction < 0 || r.Mass.Fraction > 1 || r.Mass.MinDevices < 1 {
		return errors.New("mass: fraction between 0 and 1, min_devices at least 1")
	}
	return nil
}

// observe: any message of the measurement ends a silence; a status
// state=offline (a last will) raises at once.
func (silence) observe(e *Engine, r *Rule, d *registry.Device, p *point.Point, now time.Time, out []Transition) []Transition {
	t, ok := timeout(r, d)
	if !ok || (r.Measurement != "any" && r.Measurement != p.Measurement) {
		return out
	}
	s := e.st(r, d)
	if f, ok := p.Field("state"); ok && p.Measurement == "status" && f.Kind == point.String && f.S == "offline" {
		if e.TooOld(p.Time, now) {
			return out // an offline status from long ago says nothing about now
		}
		s.lastSeen = time.Time{}
		e.stop(s, dueCondition) // it is already known to be offline
		out = e.raise(out, s, "offline", now)
		return e.checkDistrict(out, s, now)
	}
	if p.Time.Before(now.Add(-t)) {
		return out // an old backlog reading says nothing about now
	}
	s.lastSeen = now
	e.schedule(s, now.Add(t))
	if s.active() {
		out = e.clear(out, s, nil, now)
	}
	return out
}

// due queues s for goSilent, which raises every device gone silent in one
// Tick together, parents and districts first.
func (silence) due(e *Engine, s *ruleState, now time.Time, out []Transition) []Transition {
	if t, _ := timeout(s.rule, s.dev); !s.active() && !s.lastSeen.IsZero() && !now.Before(s.lastSeen.Add(t)) {
		e.silent = append(e.silent, s)
	}
	return out
}

// restore: an offline device stays offline until it reports; one that
// reported before the restart is silent from now on, and goes offline one
// timeout after start like any device.
func (silence) restore(e *Engine, s *ruleState, now time.Time) {
	if s.active() {
		s.lastSeen = time.Time{}
		return
	}
	if t, ok := timeout(s.rule, s.dev); ok && s.alert.ResolvedBy == "auto" {
		s.lastSeen = now
		e.schedule(s, now.Add(t))
	}
}

// start: a device that never reports goes offline one timeout after now;
// one still commissioning waits for its first message.
func (silence) start(e *Engine, r *Rule, d *registry.Device, now time.Time) {
	t, ok := timeout(r, d)
	if !ok || e.commissioning(d) {
		return
	}
	if _, seen := e.state[stateKey{r.ID, d.ID}]; seen {
		return
	}
	s := e.st(r, d)
	s.lastSeen = now
	e.schedule(s, now.Add(t))
}

// reloaded counts the silence of a device that is not offline from its
// last message with its timeout under the new rule.
func (silence) reloaded(e *Engine, s *ruleState) {
	if !s.active() && !s.lastSeen.IsZero() {
		t, _ := timeout(s.rule, s.dev)
		e.set(s, dueCondition, s.lastSeen.Add(t))
	}
}

func (silence) offline() bool { return true }

// timeout is how long d may be silent under r: its own timeout, else its
// kind's; false when r sets none for its kind.
func timeout(r *Rule, d *registry.Device) (time.Duration, bool) {
	if d.Timeout > 0 {
		return d.Timeout, true
	}
	t, ok := r.Timeouts[string(d.Kind)]
	return time.Duration(t), ok
}
