package alert

import (
	"errors"
	"fmt"
	"time"

	"github.com/ioc-vn/ioc/internal/contract"
)

// Dispatch: an operator assigns an active alert (a root cause, with the
// alerts folded under it) to a technician or a team, and the technician
// reports each step on the way to the fix. The engine keeps the order of
// the steps; who may take them (the assignee, a member of the team) is the
// IOC server's to check, since it knows the users and teams.

// Step is how far the work on a dispatched alert has got.
type Step string

// The steps, in order. StepEnRoute may be skipped (a technician already
// on the spot goes from accepted to on site).
const (
	StepAssigned Step = "assigned"
	StepAccepted Step = "accepted"
	StepEnRoute  Step = "en_route"
	StepOnSite   Step = "on_site"
	StepFixed    Step = "fixed"
)

// Steps lists every step in order.
func Steps() []Step { return []Step{StepAssigned, StepAccepted, StepEnRoute, StepOnSite, StepFixed} }

// StepFor is the step a dispatch op takes.
func StepFor(op contract.Op) (Step, bool) {
	s, ok := map[contract.Op]Step{contract.OpAssign: StepAssigned, contract.OpAccept: StepAccepted, contract.OpEnRoute: StepEnRoute,
		contract.OpOnSite: StepOnSite, contract.OpFixed: StepFixed}[op]
	return s, ok
}

// ErrStepOrder is wrapped by every refusal of a step out of order.
var ErrStepOrder = errors.New("step out of order")

// Dispatch is who has an alert and how far they have got.
type Dispatch struct {
	// Assignee is "user:<username>" or "team:<team id>".
	Assignee string `json:"assignee"`
	// Step is the last step taken.
	Step Step `json:"step"`
	// Steps are the steps since the assignment, oldest first, at most one
	// of each (a new assignment starts afresh).
	Steps []StepRecord `json:"steps"`
}

// StepRecord is one step: who took it, when, with what note (and, for
// fixed, the id of a photo of the fix the IOC server keeps).
type StepRecord struct {
	Step  Step      `json:"step"`
	By    string    `json:"by"`
	At    time.Time `json:"at"`
	Note  string    `json:"note,omitempty"`
	Photo string    `json:"photo,omitempty"`
}

// Since is when the current assignee was given the alert.
func (d *Dispatch) Since() time.Time {
	if d == nil || len(d.Steps) == 0 {
		return time.Time{}
	}
	return d.Steps[0].At
}

// after lists the steps a step may follow.
var after = map[Step][]Step{
	StepAccepted: {StepAssigned},
	StepEnRoute:  {StepAccepted},
	StepOnSite:   {StepAccepted, StepEnRoute},
	StepFixed:    {StepOnSite},
}

// CheckStep reports whether step may be taken next on an alert dispatched
// as d (nil: not dispatched). An assignment may always be made (again);
// the other steps follow their order. The error wraps ErrStepOrder.
func CheckStep(d *Dispatch, step Step) error {
	if step == StepAssigned {
		return nil
	}
	prev, ok := after[step]
	if !ok {
		return fmt.Errorf("step %q: use assigned, accepted, en_route, on_site or fixed", step)
	}
	if d == nil {
		return fmt.Errorf("%w: %s needs the alert assigned first", ErrStepOrder, step)
	}
	for _, p := range prev {
		if d.Step == p {
			return nil
		}
	}
	return fmt.Errorf("%w: %s comes after %s, and the alert is at %s", ErrStepOrder, step, prev[len(prev)-1], d.Step)
}

// Dispatch takes step on the active alert id: an assignment (to assignee)
// by an operator, or a technician's step. Assigning an alert nobody has
// acknowledged acknowledges it (with the alerts folded under it): the
// operator has seen it and acted. An alert folded under another is
// dispatched with it, not alone. photo is the id of a photo of the fix,
// for StepFixed only.
func (e *Engine) Dispatch(id string, step Step, assignee, by, note, photo string, now time.Time) ([]Transition, error) {
	s := e.byID[id]
	if s == nil || !s.active() {
		return nil, fmt.Errorf("alert %q is not active", id)
	}
	if by == "" {
		return nil, errors.New("a dispatch step needs who")
	}
	a := s.alert
	if a.Parent != "" {
		return nil, fmt.Errorf("alert %q is folded under %q: dispatch that one", id, a.Parent)
	}
	if err := CheckStep(a.Dispatch, step); err != nil {
		return nil, err
	}
	if photo != "" && step != StepFixed {
		return nil, fmt.Errorf("a photo goes with %s only", StepFixed)
	}
	var out []Transition
	rec := StepRecord{Step: step, By: by, At: now, Note: note, Photo: photo}
	if step == StepAssigned {
		if !contract.ValidAssignee(assignee) {
			return nil, fmt.Errorf("assignee %q: use user:<username> or team:<team id>", assignee)
		}
		if a.Ack == nil {
			out, _ = e.Acknowledge(id, by, "", now)
		}
		a.Dispatch = &Dispatch{Assignee: assignee, Step: step, Steps: []StepRecord{rec}}
	} else {
		d := *a.Dispatch // a copy: transitions already handed out keep theirs
		d.Steps = append(append(make([]StepRecord, 0, len(d.Steps)+1), d.Steps...), rec)
		d.Step = step
		a.Dispatch = &d
	}
	a.UpdatedAt = now
	return append(out, Transition{Kind: TransitionKind(step), At: now, Alert: *a, By: by, Note: note}), nil
}
