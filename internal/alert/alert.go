// Package alert turns device readings, status, events and silence into
// alerts operators can trust. It is a pure core: Engine.Observe takes a
// device's points and the time, Engine.Tick takes the time, and both
// return the alert transitions they caused; nothing here touches the
// network, the store or the clock.
//
// A reader starts here (the types) and in engine.go (Observe, Tick). Each
// rule kind lives in its own file behind the evaluator interface
// (kind.go): threshold.go, rise.go, stuck.go, event.go, silence.go. What
// every kind shares is apart: lifecycle.go (raise, clear, acknowledge,
// resolve), timers.go (the deadline heap), fold.go (root cause: parents
// and district outages), maintenance.go, windows.go (condition windows
// saved across a restart) and restore.go (Restore and Reconfigure).
package alert

import (
	"sort"
	"time"

	"github.com/ioc-vn/ioc/internal/registry"
)

// State of an alert.
type State string

const (
	Active   State = "active"
	Resolved State = "resolved"
)

// TransitionKind is what a Transition did.
type TransitionKind string

const (
	Raised       TransitionKind = "raised"
	Updated      TransitionKind = "updated"
	Reopened     TransitionKind = "reopened" // raised again within the flap window: the same alert, Flaps+1
	Renotified   TransitionKind = "renotified"
	Acked        TransitionKind = "acked"
	Cleared      TransitionKind = "resolved"
	Folded       TransitionKind = "folded"       // now shown under Parent (its NVR, gateway or district is down)
	Surfaced     TransitionKind = "surfaced"     // its parent came back but it is still down: shown on its own
	Suppressed   TransitionKind = "suppressed"   // its device or district went into maintenance
	Unsuppressed TransitionKind = "unsuppressed" // maintenance ended while it is still active

	// Dispatch (dispatch.go): the kind is the step taken.
	Assigned TransitionKind = TransitionKind(StepAssigned)
	Accepted TransitionKind = TransitionKind(StepAccepted)
	EnRoute  TransitionKind = TransitionKind(StepEnRoute)
	OnSite   TransitionKind = TransitionKind(StepOnSite)
	Fixed    TransitionKind = TransitionKind(StepFixed)
	// Response targets (targets.go): not acknowledged, or not restored,
	// by its severity's target.
	AckOverdue     TransitionKind = "ack_overdue"
	RestoreOverdue TransitionKind = "restore_overdue"

	// Maintenance transitions carry Maintenance, not Alert.
	MaintenanceStarted TransitionKind = "maintenance_started"
	MaintenanceEnded   TransitionKind = "maintenance_ended"
)

// Ack records who acknowledged an alert.
type Ack struct {
	By   string    `json:"by"`
	At   time.Time `json:"at"`
	Note string    `json:"note,omitempty"`
	// Via is the alert whose acknowledgement covered this one: the
	// recorder's, gateway's or district's alert it was folded under.
	Via string `json:"via,omitempty"`
}

// Alert is one (rule, device) alert. Its ID is "<rule>/<device>"; a
// district-wide outage is "<rule>/district:<district>".
type Alert struct {
	ID         string            `json:"id"`
	Rule       string            `json:"rule"`
	RuleKind   Kind              `json:"rule_kind"`
	Device     string            `json:"device"`
	DeviceKind registry.Kind     `json:"device_kind"`
	District   string            `json:"district"`
	Severity   Severity          `json:"severity"`
	State      State             `json:"state"`
	Value      any               `json:"value"`
	Message    map[string]string `json:"message"` // "vi", "en"
	RaisedAt   time.Time         `json:"raised_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
	// LastAt is when the condition was last observed (the last event of an
	// event rule): timers that run from the condition read it, so an
	// acknowledgement, a fold or a maintenance window (which move
	// UpdatedAt) changes none of them.
	LastAt time.Time `json:"last_at,omitzero"`
	// NotifiedAt is when the alert was last announced (raised, reopened,
	// renotified, or out of maintenance): re-notification counts from it.
	NotifiedAt time.Time `json:"notified_at,omitzero"`
	Count      int       `json:"count"`
	Flaps      int       `json:"flaps"`
	Ack        *Ack      `json:"ack,omitempty"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	ResolvedBy string    `json:"resolved_by,omitempty"` // "auto", "config" or who
	// Parent is the alert this one is folded under: its NVR's or gateway's
	// offline alert, or its district's outage alert.
	Parent string `json:"parent,omitempty"`
	// Suppressed: raised or still active while its device or district is
	// in maintenance. Shown, marked, never announced.
	Suppressed bool `json:"suppressed,omitempty"`
	// Dispatch is who has the alert and how far they have got; nil until
	// an operator assigns it.
	Dispatch *Dispatch `json:"dispatch,omitempty"`
	// AckDue and RestoreDue are its severity's response targets (zero: no
	// target): acknowledged, and resolved, by then. AckOverdue and
	// RestoreOverdue say a target passed (an ack_overdue or
	// restore_overdue transition was made).
	AckDue         time.Time `json:"ack_due,omitzero"`
	RestoreDue     time.Time `json:"restore_due,omitzero"`
	AckOverdue     bool      `json:"ack_overdue,omitempty"`
	RestoreOverdue bool      `json:"restore_overdue,omitempty"`
}

// lastAt is LastAt, or UpdatedAt for an alert saved before LastAt existed.
func (a *Alert) lastAt() time.Time {
	if a.LastAt.IsZero() {
		return a.UpdatedAt
	}
	return a.LastAt
}

// IsDistrict reports whether the alert is a district-wide outage.
func (a *Alert) IsDistrict() bool { return a.DeviceKind == DistrictKind }

// DistrictKind is the device kind of the pseudo-device a district outage
// alert belongs to.
const DistrictKind registry.Kind = "district"

// Transition is one change of one alert (Alert is a copy after the change),
// or of a maintenance window (Maintenance).
type Transition struct {
	Kind        TransitionKind
	At          time.Time
	Alert       Alert
	Maintenance *Maintenance
	By          string // who, for commands
	Note        string
}

// Options tune the lifecycle.
type Options struct {
	// FlapWindow: an alert raised again this soon after it resolved is
	// reopened (the same alert, Flaps+1) instead of a new one.
	FlapWindow time.Duration
	// Renotify: an active, unacknowledged critical alert is announced
	// again this often.
	Renotify time.Duration
	// SurfaceAfter: once a parent (NVR, gateway, district) is back, its
	// children still offline this long after are shown on their own.
	SurfaceAfter time.Duration
	// MaxAge: a point stamped longer ago than this (a gateway's backlog,
	// a device with a wrong clock) is stored but raises and clears
	// nothing; it still tells a silence rule the device is there.
	MaxAge time.Duration
	// Targets are the response targets per severity (none when absent).
	Targets map[Severity]Target
}

// DefaultOptions are used for zero fields.
var DefaultOptions = Options{FlapWindow: 10 * time.Minute, Renotify: 15 * time.Minute, SurfaceAfter: 30 * time.Second, MaxAge: 10 * time.Minute}

// SortAlerts orders alerts most severe first, then oldest first, then by id.
func SortAlerts(as []Alert) {
	sort.Slice(as, func(i, j int) bool {
		if ri, rj := as[i].Severity.Rank(), as[j].Severity.Rank(); ri != rj {
			return ri < rj
		}
		if !as[i].RaisedAt.Equal(as[j].RaisedAt) {
			return as[i].RaisedAt.Before(as[j].RaisedAt)
		}
		return as[i].ID < as[j].ID
	})
}
