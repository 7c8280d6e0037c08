package alert

import (
	"strings"
	"time"

	"github.com/ioc-vn/ioc/internal/registry"
)

// resolve finds, under the rules and registry in force, the rule and
// device of an alert state saved by an earlier process (Restore) or held
// across a reload (Reconfigure): the rule by id, still of kind k; the
// device, still registered and in the rule's scope, or for a district
// outage the district's pseudo-device while the rule still counts devices
// there. The device is nil when either is gone.
func (e *Engine) resolve(rule string, k Kind, device, district string, isDistrict bool) (*Rule, *registry.Device) {
	r := e.rules.byID(rule)
	if r == nil || r.Kind != k {
		return nil, nil
	}
	if isDistrict {
		if ds := e.districts[stateKey{r.ID, district}]; ds != nil && r.eval.offline() && ds.total > 0 {
			return r, ds.pseudo(e.reg)
		}
		return nil, nil
	}
	if de := e.devs[device]; de != nil && r.Applies(de.dev) {
		return r, de.dev
	}
	return nil, nil
}

// Restore brings back alerts saved by an earlier process, before Start:
// active ones stay active (offline devices stay offline until they
// report), resolved ones still count for flap detection. Alerts whose rule
// or device is gone, or whose rule is now of another kind, are skipped and
// returned.
func (e *Engine) Restore(alerts []Alert, maint []Maintenance, now time.Time) (skipped []string) {
	for i := range maint {
		// One that ended while no process ran is ended by the first Tick,
		// which announces its alerts again.
		m := maint[i]
		e.maint[m.Target] = &m
	}
	for i := range alerts {
		a := alerts[i]
		r, d := e.resolve(a.Rule, a.RuleKind, a.Device, a.District, a.DeviceKind == DistrictKind)
		if d == nil || (a.State == Resolved && now.Sub(a.ResolvedAt) >= e.o.FlapWindow) {
			skipped = append(skipped, a.ID)
			continue
		}
		s := e.st(r, d)
		s.alert = &a
		if s.active() {
			e.countOffline(s, +1)
		}
		r.eval.restore(e, s, now)
		e.armTarget(s, now)
		if s.active() && r.Severity == Critical && a.Ack == nil && !a.Suppressed {
			// From the last announcement; at once if that is overdue.
			from := a.NotifiedAt
			if from.IsZero() { // saved before NotifiedAt existed
				from = now
			}
			e.set(s, dueRenotify, maxTime(now, from.Add(e.o.Renotify)))
		}
	}
	for _, ds := range e.districts {
		if ds.s != nil && ds.s.active() {
			continue
		}
		ds.s = e.state[stateKey{ds.rule.ID, districtPrefix + ds.id}]
	}
	e.restoreSurfacing(now)
	return skipped
}

// restoreSurfacing re-arms, after Restore, the surfacing of children still
// folded under a parent whose alert has closed: SurfaceAfter after the
// parent came back, at once if that passed during the restart, or if the
// parent's alert is no longer held at all.
func (e *Engine) restoreSurfacing(now time.Time) {
	for _, cs := range e.sortedStates() {
		a := cs.alert
		if !cs.active() || a.Parent == "" || !cs.rule.eval.offline() {
			continue
		}
		dev, ok := strings.CutPrefix(a.Parent, cs.rule.ID+"/")
		if !ok {
			continue
		}
		ps := e.state[stateKey{cs.rule.ID, dev}]
		if ps != nil && ps.active() {
			continue // still folded
		}
		at := now
		if ps != nil && ps.alert != nil {
			at = maxTime(now, ps.alert.ResolvedAt.Add(e.o.SurfaceAfter))
		} else if ps = e.parentState(cs.rule, dev, now); ps == nil {
			continue
		}
		e.set(ps, dueSurface, at)
	}
}

// parentState makes the state of a parent (device or district) whose
// alert is no longer held, so that its children can surface. A device's
// silence deadline is armed from now, as Start would have.
func (e *Engine) parentState(r *Rule, dev string, now time.Time) *ruleState {
	if id, ok := strings.CutPrefix(dev, districtPrefix); ok {
		if ds := e.districts[stateKey{r.ID, id}]; ds != nil {
			return e.st(r, ds.pseudo(e.reg))
		}
		return nil
	}
	de := e.devs[dev]
	if de == nil || !r.Applies(de.dev) {
		return nil
	}
	s := e.st(r, de.dev)
	if t, ok := timeout(r, de.dev); ok {
		s.lastSeen = now
		e.schedule(s, now.Add(t))
	}
	return s
}

// Reconfigure swaps in new rules and/or a new registry (SIGHUP) keeping
// every alert and its history whose rule and device remain. Alerts whose
// rule or device is gone, or is no longer in the rule's scope, or whose
// rule is now of another kind, are resolved by "config". Devices new to a
// silence rule are armed from now.
func (e *Engine) Reconfigure(rules *Rules, reg *registry.Registry, now time.Time) []Transition {
	if rules != nil {
		e.rules = rules
	}
	if reg != nil {
		e.reg = reg
	}
	e.index()
	var out []Transition
	for _, s := range e.sortedStates() {
		r, d := e.resolve(s.rule.ID, s.rule.Kind, s.dev.ID, s.dev.District, s.dev.Kind == DistrictKind)
		if d == nil {
			out = e.forget(out, s, now)
			continue
		}
		s.rule, s.dev = r, d
		if s.active() {
			e.countOffline(s, +1)
		}
		r.eval.reloaded(e, s)
	}
	for _, ds := range e.districts {
		if ds.s != nil && ds.s.removed {
			ds.s = nil
		}
	}
	e.Start(now)
	for _, ds := range e.districts {
		if ds.s != nil {
			out = e.checkDistrict(out, ds.s, now)
		}
	}
	return out
}

// forget drops a state whose rule or device a reload removed, resolving
// its alert by "config".
func (e *Engine) forget(out []Transition, s *ruleState, now time.Time) []Transition {
	if s.active() {
		out = e.close(out, s, nil, "config", "rule or device removed from the configuration", now)
	}
	s.removed = true
	e.touchWindow(s)
	for w := range s.timers {
		e.stop(s, uint8(w))
	}
	delete(e.byID, s.id)
	delete(e.state, stateKey{s.rule.ID, s.dev.ID})
	return out
}
