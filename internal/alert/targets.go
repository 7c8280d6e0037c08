package alert

import "time"

// Response targets: each severity may have a time to acknowledge and a
// time to restore, counted from when the alert is raised (or reopened
// after a person resolved it). Passing one is itself a transition
// (AckOverdue, RestoreOverdue), once per alert, made only for alerts shown
// on their own: not for one folded under a parent (the parent's target
// counts) nor for one in maintenance (it gets its turn when it surfaces or
// the window ends).

// Target is one severity's response targets; zero means none.
type Target struct {
	Acknowledge time.Duration `yaml:"acknowledge" json:"acknowledge"`
	Restore     time.Duration `yaml:"restore" json:"restore"`
}

// setTargets starts a's targets from now.
func (e *Engine) setTargets(s *ruleState, now time.Time) {
	a, t := s.alert, e.o.Targets[s.rule.Severity]
	a.AckDue, a.RestoreDue, a.AckOverdue, a.RestoreOverdue = time.Time{}, time.Time{}, false, false
	if t.Acknowledge > 0 {
		a.AckDue = now.Add(t.Acknowledge)
	}
	if t.Restore > 0 {
		a.RestoreDue = now.Add(t.Restore)
	}
	e.armTarget(s, now)
}

// armTarget arms s's target timer at the next target its alert may miss.
func (e *Engine) armTarget(s *ruleState, now time.Time) {
	e.stop(s, dueTarget)
	a := s.alert
	if !s.active() {
		return
	}
	var next time.Time
	if a.Ack == nil && !a.AckOverdue && !a.AckDue.IsZero() {
		next = a.AckDue
	}
	if !a.RestoreOverdue && !a.RestoreDue.IsZero() && (next.IsZero() || a.RestoreDue.Before(next)) {
		next = a.RestoreDue
	}
	if !next.IsZero() {
		e.set(s, dueTarget, maxTime(next, now))
	}
}

// overdue makes the transitions of the targets s's alert has missed by now.
func (e *Engine) overdue(out []Transition, s *ruleState, now time.Time) []Transition {
	a := s.alert
	if !s.active() || a.Parent != "" || a.Suppressed {
		return out // re-armed when it surfaces or its window ends
	}
	if a.Ack == nil && !a.AckOverdue && !a.AckDue.IsZero() && !now.Before(a.AckDue) {
		a.AckOverdue, a.UpdatedAt = true, now
		out = append(out, Transition{Kind: AckOverdue, At: now, Alert: *a})
	}
	if !a.RestoreOverdue && !a.RestoreDue.IsZero() && !now.Before(a.RestoreDue) {
		a.RestoreOverdue, a.UpdatedAt = true, now
		out = append(out, Transition{Kind: RestoreOverdue, At: now, Alert: *a})
	}
	e.armTarget(s, now)
	return out
}
