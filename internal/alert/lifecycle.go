package alert

import (
	"errors"
	"fmt"
	"time"
)

// The lifecycle every rule kind shares: an alert is raised (new, updated
// while active, or reopened within the flap window), cleared on its own or
// resolved by hand, acknowledged, and re-announced while critical and
// unacknowledged.

func (e *Engine) raise(out []Transition, s *ruleState, value any, now time.Time) []Transition {
	r, d := s.rule, s.dev
	msg := e.render(s, value)
	a := s.alert
	e.touchWindow(s) // active or not is part of a window
	switch {
	case a != nil && a.State == Active:
		a.Value, a.UpdatedAt, a.LastAt, a.Message = value, now, now, msg
		a.Count++
		return append(out, Transition{Kind: Updated, At: now, Alert: *a})
	case a != nil && now.Sub(a.ResolvedAt) < e.o.FlapWindow:
		return e.reopen(out, s, value, msg, now)
	}
	a = &Alert{ID: s.id, Rule: r.ID, RuleKind: r.Kind, Device: d.ID, DeviceKind: d.Kind, District: d.District,
		Severity: r.Severity, State: Active, Value: value, Message: msg, RaisedAt: now, UpdatedAt: now, LastAt: now, NotifiedAt: now, Count: 1,
		Parent: e.foldTarget(s), Suppressed: e.inMaintenance(d, now)}
	s.alert = a
	e.renotifyLater(s, now)
	e.setTargets(s, now)
	e.countOffline(s, +1)
	out = append(out, Transition{Kind: Raised, At: now, Alert: *a})
	if r.eval.offline() {
		out = e.foldChildren(out, s, now)
	}
	return out
}

// reopen raises s's alert again, resolved less than the flap window ago.
func (e *Engine) reopen(out []Transition, s *ruleState, value any, msg map[string]string, now time.Time) []Transition {
	a := s.alert
	a.State, a.Value, a.UpdatedAt, a.LastAt, a.NotifiedAt, a.Message = Active, value, now, now, now, msg
	a.Flaps++
	a.Count++
	// A condition that cleared and came back on its own within the
	// window is one flapping fault: it keeps its acknowledgement (the
	// wall shows "chập chờn ×N" instead of a new, flashing alert). One
	// resolved by a person and back is news: it needs a new one.
	if a.ResolvedBy != "auto" {
		a.Ack, a.Dispatch = nil, nil
	}
	a.ResolvedAt, a.ResolvedBy = time.Time{}, ""
	a.Parent, a.Suppressed = e.foldTarget(s), e.inMaintenance(s.dev, now)
	e.renotifyLater(s, now)
	if a.Ack == nil { // news again: its targets count from now
		e.setTargets(s, now)
	} else {
		e.armTarget(s, now)
	}
	e.countOffline(s, +1)
	out = append(out, Transition{Kind: Reopened, At: now, Alert: *a})
	if s.rule.eval.offline() { // as for a first raise: only offline alerts fold
		out = e.foldChildren(out, s, now)
	}
	return out
}

// renotifyLater starts a new re-notification chain for a critical alert,
// ending any earlier one.
func (e *Engine) renotifyLater(s *ruleState, now time.Time) {
	e.stop(s, dueRenotify)
	if s.rule.Severity == Critical {
		e.set(s, dueRenotify, now.Add(e.o.Renotify))
	}
}

// renotify announces s's alert again if it is still active, unacknowledged
// and not suppressed, and arms the next announcement.
func (e *Engine) renotify(out []Transition, s *ruleState, now time.Time) []Transition {
	if a := s.alert; s.active() && a.Ack == nil && !a.Suppressed {
		a.NotifiedAt = now
		out = append(out, Transition{Kind: Renotified, At: now, Alert: *a})
		e.set(s, dueRenotify, now.Add(e.o.Renotify))
	}
	return out
}

// clear resolves s's active alert on its own (the condition cleared).
func (e *Engine) clear(out []Transition, s *ruleState, value any, now time.Time) []Transition {
	return e.close(out, s, value, "auto", "", now)
}

func (e *Engine) close(out []Transition, s *ruleState, value any, by, note string, now time.Time) []Transition {
	a := s.alert
	if !s.active() {
		return out
	}
	if value != nil {
		a.Value = value
	}
	a.State, a.ResolvedAt, a.ResolvedBy, a.UpdatedAt = Resolved, now, by, now
	s.raiseSince, s.clearSince = time.Time{}, time.Time{}
	e.touchWindow(s)
	e.stop(s, dueRenotify)
	e.stop(s, dueTarget)
	out = append(out, Transition{Kind: Cleared, At: now, Alert: *a, By: by, Note: note})
	e.countOffline(s, -1)
	if s.rule.eval.offline() {
		out = e.checkDistrict(out, s, now)
		if e.hasChildren(s) {
			e.set(s, dueSurface, now.Add(e.o.SurfaceAfter))
		}
	}
	return out
}

// Acknowledge records that an operator has seen an active alert, and with
// it the unacknowledged alerts folded under it (a recorder's cameras, a
// district's devices, to any depth): the operator saw them as one card.
// Each of those gets its own Acked transition, its Ack.Via naming id.
func (e *Engine) Acknowledge(id, by, note string, now time.Time) ([]Transition, error) {
	s := e.byID[id]
	if s == nil || !s.active() {
		return nil, fmt.Errorf("alert %q is not active", id)
	}
	if by == "" {
		return nil, errors.New("an acknowledgement needs who")
	}
	a := s.alert
	a.Ack = &Ack{By: by, At: now, Note: note}
	a.UpdatedAt = now
	out := []Transition{{Kind: Acked, At: now, Alert: *a, By: by, Note: note}}
	return e.ackFolded(out, s, id, by, note, now), nil
}

// ackFolded acknowledges, via root, the alerts folded under s's.
func (e *Engine) ackFolded(out []Transition, s *ruleState, root, by, note string, now time.Time) []Transition {
	for _, child := range e.children(s) {
		cs := e.state[stateKey{s.rule.ID, child}]
		if cs == nil || !cs.active() || cs.alert.Parent != s.id {
			continue
		}
		if cs.alert.Ack == nil {
			cs.alert.Ack = &Ack{By: by, At: now, Note: note, Via: root}
			cs.alert.UpdatedAt = now
			out = append(out, Transition{Kind: Acked, At: now, Alert: *cs.alert, By: by, Note: note})
		}
		out = e.ackFolded(out, cs, root, by, note, now)
	}
	return out
}

// Resolve closes an active alert by hand. It raises again only after its
// condition has cleared and comes back. Closing a parent's alert may
// surface its children later, so Resolve returns every transition.
func (e *Engine) Resolve(id, by, note string, now time.Time) ([]Transition, error) {
	s := e.byID[id]
	if s == nil || !s.active() {
		return nil, fmt.Errorf("alert %q is not active", id)
	}
	if by == "" {
		return nil, errors.New("a resolution needs who")
	}
	s.waitClear = true
	e.stop(s, dueCondition) // drop its pending deadline
	if note != "" {
		if s.alert.Ack == nil {
			s.alert.Ack = &Ack{By: by, At: now}
		}
		s.alert.Ack.Note = note
	}
	return e.close(nil, s, nil, by, note, now), nil
}
