package notify

import (
	"slices"
	"strconv"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
)

// incident is one announced (or about to be) alert: what has been planned
// for it so far. It is saved with every change, so a restart neither
// repeats a step nor forgets one.
type incident struct {
	Key   string      `json:"key"`   // "<alert id>@<since, unix seconds>"
	Since time.Time   `json:"since"` // raised, or reopened after its incident ended
	Alert alert.Alert `json:"alert"` // the latest copy
	// Done lists the steps planned: "raised/<policy>",
	// "unacknowledged/<policy>/<i>", "unresolved/<policy>/<i>",
	// "ack_overdue/<policy>", "restore_overdue/<policy>",
	// "assigned/<assignee>@<unix seconds>", "acknowledged".
	Done []string `json:"done,omitempty"`
	// Told lists the recipients a message of it was planned for: they get
	// the updates.
	Told []string `json:"told,omitempty"`
}

func (in *incident) done(step string) bool { return slices.Contains(in.Done, step) }

// planned is a step due now: kind to recipients.
type planned struct {
	kind Kind
	step string // the step's name, part of each message's key
	to   []string
	// after is an escalation's delay, or the target missed (for the text).
	after time.Duration
}

// plan decides what in's alert calls for at now under policies and
// assignees (Config.Assignees), with the group wait gw: the steps due (marked done in in), the next time
// something will be due (zero: nothing until the alert changes), and
// whether the incident is over (resolved and said so, or resolved before
// anyone was told). Pure: the caller saves in and the messages together.
func plan(in *incident, policies []Policy, assignees map[string][]string, gw time.Duration, now time.Time) (out []planned, next time.Time, over bool) {
	a := &in.Alert
	active := a.State == alert.Active
	// Folded under another alert (its recorder's, its district's) or in
	// maintenance: the other alert is the incident; this one waits.
	shown := a.Parent == "" && !a.Suppressed
	at := func(p *Policy, due time.Time) (time.Time, bool) {
		if quiet, end := p.QuietHours.quiet(due); quiet && end.After(due) {
			due = end
		}
		if now.Before(due) {
			if next.IsZero() || due.Before(next) {
				next = due
			}
			return due, false
		}
		return due, true
	}
	tell := func(kind Kind, step string, to []string, after time.Duration) {
		in.Done = append(in.Done, step)
		out = append(out, planned{kind: kind, step: step, to: to, after: after})
		for _, r := range to {
			if !slices.Contains(in.Told, r) {
				in.Told = append(in.Told, r)
			}
		}
	}
	if active && shown {
		for i := range policies {
			p := &policies[i]
			if !p.matches(a) {
				continue
			}
			if step := "raised/" + p.Name; len(p.Notify) > 0 && !in.done(step) {
				if _, ok := at(p, in.Since.Add(gw)); ok {
					if a.Ack != nil { // acknowledged within the wait: the first message says so
						in.Done = append(in.Done, "acknowledged")
					}
					tell(KindRaised, step, p.Notify, 0)
				}
			}
			for j, s := range p.Unacknowledged {
				step := "unacknowledged/" + p.Name + "/" + strconv.Itoa(j)
				if a.Ack != nil || in.done(step) {
					continue
				}
				if _, ok := at(p, in.Since.Add(s.After)); ok {
					tell(KindUnacknowledged, step, s.Notify, s.After)
				}
			}
			for j, s := range p.Unresolved {
				step := "unresolved/" + p.Name + "/" + strconv.Itoa(j)
				if in.done(step) {
					continue
				}
				if _, ok := at(p, in.Since.Add(s.After)); ok {
					tell(KindUnresolved, step, s.Notify, s.After)
				}
			}
			// A missed target is an event of its own: one message each.
			for _, b := range []struct {
				kind   Kind
				missed bool
				due    time.Time
			}{{KindAckOverdue, a.AckOverdue, a.AckDue}, {KindRestoreOverdue, a.RestoreOverdue, a.RestoreDue}} {
				step := string(b.kind) + "/" + p.Name
				if len(p.Breached) == 0 || !b.missed || in.done(step) {
					continue
				}
				if _, ok := at(p, b.due); ok {
					tell(b.kind, step, p.Breached, b.due.Sub(in.Since))
				}
			}
		}
	}
	// Assigned: the assignee's recipients are told at once, once per
	// assignment; their message says it was acknowledged, if it was.
	var assigned []string
	if d := a.Dispatch; active && d != nil && len(assignees[d.Assignee]) > 0 {
		if step := "assigned/" + d.Assignee + "@" + strconv.FormatInt(d.Since().Unix(), 10); !in.done(step) {
			assigned = assignees[d.Assignee]
			tell(KindAssigned, step, assigned, 0)
		}
	}
	if a.Ack != nil && len(in.Told) > 0 && !in.done("acknowledged") {
		to := slices.DeleteFunc(slices.Clone(in.Told), func(r string) bool { return slices.Contains(assigned, r) })
		if len(to) > 0 {
			tell(KindAcknowledged, "acknowledged", to, 0)
		} else {
			in.Done = append(in.Done, "acknowledged")
		}
	}
	if active {
		return out, next, false
	}
	if len(in.Told) == 0 {
		return out, time.Time{}, true // resolved before anyone was told: nothing to say
	}
	// Resolved: said after the group wait, so that a fault that flaps back
	// within it continues this incident instead of ending it.
	if due := a.ResolvedAt.Add(gw); now.Before(due) {
		return out, due, false
	}
	tell(KindResolved, "resolved", slices.Clone(in.Told), 0)
	return out, time.Time{}, true
}
