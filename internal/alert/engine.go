package alert

import (
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/registry"
)

// State of an alert.
const (
	Active   = "active"
	Resolved = "resolved"
)

// Transition kinds.
const (
	Raised       = "raised"
	Updated      = "updated"
	Reopened     = "reopened" // raised again within the flap window: the same alert, Flaps+1
	Renotified   = "renotified"
	Acked        = "acked"
	Cleared      = "resolved"
	Folded       = "folded"       // now shown under Parent (its NVR, gateway or district is down)
	Surfaced     = "surfaced"     // its parent came back but it is still down: shown on its own
	Suppressed   = "suppressed"   // its device or district went into maintenance
	Unsuppressed = "unsuppressed" // maintenance ended while it is still active

	// Maintenance transitions carry Maintenance, not Alert.
	MaintenanceStarted = "maintenance_started"
	MaintenanceEnded   = "maintenance_ended"
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
	State      string            `json:"state"`
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
	Kind        string
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
}

// DefaultOptions are used for zero fields.
var DefaultOptions = Options{FlapWindow: 10 * time.Minute, Renotify: 15 * time.Minute, SurfaceAfter: 30 * time.Second}

// Engine evaluates rules over devices. It is not safe for concurrent use:
// one goroutine at a time (ingest's alert service holds a lock).
type Engine struct {
	rules *Rules
	reg   *registry.Registry
	o     Options

	devs      map[string]*devEntry
	state     map[stateKey]*ruleState
	byID      map[string]*ruleState // alert id → state, for commands
	districts map[stateKey]*districtState
	maint     map[string]*Maintenance // by target
	due       deadlines
	dirty     []*ruleState // windows changed since WindowChanges
}

type stateKey struct{ rule, dev string }

type devEntry struct {
	dev      *registry.Device
	rules    []*Rule  // the rules whose scope includes it
	children []string // devices whose parent it is
}

type ruleState struct {
	id    string // "<rule>/<device>"
	rule  *Rule
	dev   *registry.Device
	alert *Alert // active, or resolved (kept for flap detection)

	raiseSince, clearSince time.Time // threshold: when the condition began to hold
	last                   point.Field
	lastSeen               time.Time // silence: last message
	samples                []sample  // rise: readings within the window
	waitClear              bool      // resolved by hand: re-raise only after it clears
	removed                bool      // its rule or device is gone
	// Saving windows (threshold, stuck). held: a stuck value came at least
	// twice, so its window is worth saving (a value that changes with every
	// reading is never written). dirty: queued for WindowChanges. saved*:
	// the window as last handed out, so unchanged windows are not written again.
	held, dirty bool
	savedSince  time.Time
	savedClear  bool
	// timers: at most one pending deadline per purpose (dueCondition,
	// dueRenotify, dueSurface), moved in place, so the deadline heap never
	// holds more than three entries per state however fast messages come.
	timers [3]timer
}

func (s *ruleState) active() bool { return s.alert != nil && s.alert.State == Active }

type sample struct {
	at time.Time
	v  float64
}

// NewEngine builds an engine; call Restore (optionally) and then Start
// before the first Observe.
func NewEngine(rules *Rules, reg *registry.Registry, o Options) *Engine {
	if o.FlapWindow <= 0 {
		o.FlapWindow = DefaultOptions.FlapWindow
	}
	if o.Renotify <= 0 {
		o.Renotify = DefaultOptions.Renotify
	}
	if o.SurfaceAfter <= 0 {
		o.SurfaceAfter = DefaultOptions.SurfaceAfter
	}
	e := &Engine{rules: rules, reg: reg, o: o, state: map[stateKey]*ruleState{}, byID: map[string]*ruleState{},
		districts: map[stateKey]*districtState{}, maint: map[string]*Maintenance{}}
	e.index()
	return e
}

// index builds the per-device rule lists and the parent and district
// indexes from the current rules and registry.
func (e *Engine) index() {
	e.devs = make(map[string]*devEntry, e.reg.Len())
	named := map[string]bool{}
	for _, r := range e.rules.List {
		for _, id := range r.Scope.Devices {
			named[id] = true
		}
	}
	shared := map[string][]*Rule{} // by kind and district, for devices no rule names
	for _, d := range e.reg.Devices() {
		key := string(d.Kind) + "\x00" + d.District
		rules, ok := shared[key]
		if !ok || named[d.ID] {
			rules = nil
			for _, r := range e.rules.List {
				if r.Applies(d) {
					rules = append(rules, r)
				}
			}
			if !named[d.ID] {
				shared[key] = rules
			}
		}
		e.devs[d.ID] = &devEntry{dev: d, rules: rules}
	}
	for _, d := range e.reg.Devices() {
		if p := e.devs[d.Parent]; p != nil && d.Parent != "" {
			p.children = append(p.children, d.ID)
		}
	}
	// District outage counting, per silence rule.
	for _, ds := range e.districts {
		ds.total, ds.offline, ds.devices = 0, 0, ds.devices[:0]
	}
	for _, r := range e.rules.List {
		if r.Kind != Silence || r.Mass.Off {
			continue
		}
		for _, d := range e.reg.Devices() {
			if _, ok := timeout(r, d); !ok || !r.Applies(d) {
				continue
			}
			ds := e.district(r, d.District)
			ds.total++
			ds.devices = append(ds.devices, d.ID)
		}
	}
}

// Start arms silence deadlines for every device in scope that has none,
// counted from now: a device that never reports goes offline one timeout
// after start.
func (e *Engine) Start(now time.Time) {
	for _, de := range e.devs {
		for _, r := range de.rules {
			if r.Kind != Silence {
				continue
			}
			t, ok := timeout(r, de.dev)
			if !ok {
				continue
			}
			if _, seen := e.state[stateKey{r.ID, de.dev.ID}]; seen {
				continue
			}
			s := e.st(r, de.dev)
			s.lastSeen = now
			e.schedule(s, now.Add(t))
		}
	}
}

func timeout(r *Rule, d *registry.Device) (time.Duration, bool) {
	if d.Timeout > 0 {
		return d.Timeout, true
	}
	t, ok := r.Timeouts[string(d.Kind)]
	return time.Duration(t), ok
}

func (e *Engine) st(r *Rule, d *registry.Device) *ruleState {
	k := stateKey{r.ID, d.ID}
	s, ok := e.state[k]
	if !ok {
		s = &ruleState{id: r.ID + "/" + d.ID, rule: r, dev: d}
		for i := range s.timers {
			s.timers[i] = timer{s: s, idx: -1, what: uint8(i)}
		}
		e.state[k] = s
		e.byID[s.id] = s
	}
	return s
}

// Observe evaluates a device's new points at now. Devices not in the
// registry are not evaluated.
func (e *Engine) Observe(d *registry.Device, pts []point.Point, now time.Time) []Transition {
	de := e.devs[d.ID]
	if de == nil {
		return nil
	}
	d = de.dev
	var out []Transition
	for _, r := range de.rules {
		for i := range pts {
			p := &pts[i]
			switch r.Kind {
			case Silence:
				t, ok := timeout(r, d)
				if !ok || (r.Measurement != "any" && r.Measurement != p.Measurement) {
					continue
				}
				s := e.st(r, d)
				if f, ok := p.Field("state"); ok && p.Measurement == "status" && f.Kind == point.String && f.S == "offline" {
					s.lastSeen = time.Time{}
					e.stop(s, dueCondition) // it is already known to be offline
					out = e.raise(out, s, "offline", now)
					out = e.checkDistrict(out, s, now)
					continue
				}
				if p.Time.Before(now.Add(-t)) {
					continue // an old backlog reading says nothing about now
				}
				s.lastSeen = now
				e.schedule(s, now.Add(t))
				if s.active() {
					out = e.clear(out, s, nil, now)
				}
			case Event:
				if p.Measurement != "event" {
					continue
				}
				typ, _ := p.Tag("type")
				if !contains(r.Types, typ) {
					continue
				}
				s := e.st(r, d)
				s.waitClear = false
				out = e.raise(out, s, typ, now)
				e.schedule(s, now.Add(time.Duration(r.ClearAfter)))
			case Threshold:
				if p.Measurement != r.Measurement {
					continue
				}
				f, ok := p.Field(r.Field)
				if !ok {
					continue
				}
				out = e.threshold(out, e.st(r, d), f, now)
			case Stuck:
				if p.Measurement != r.Measurement {
					continue
				}
				if f, ok := p.Field(r.Field); ok {
					out = e.stuck(out, e.st(r, d), f, now)
				}
			case Rise:
				if p.Measurement != r.Measurement {
					continue
				}
				f, ok := p.Field(r.Field)
				if !ok || (f.Kind != point.Float && f.Kind != point.Int) {
					continue
				}
				out = e.rise(out, e.st(r, d), p.Time, num(f), now)
			}
		}
	}
	return out
}

// threshold evaluates a reading of a threshold rule and queues its window
// for saving when the window opened, closed or turned.
func (e *Engine) threshold(out []Transition, s *ruleState, f point.Field, now time.Time) []Transition {
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

func (e *Engine) rise(out []Transition, s *ruleState, at time.Time, v float64, now time.Time) []Transition {
	r := s.rule
	s.samples = append(s.samples, sample{at, v})
	from := at.Add(-time.Duration(r.Window))
	i := 0
	for i < len(s.samples) && s.samples[i].at.Before(from) {
		i++
	}
	s.samples = s.samples[i:]
	lowest := math.Inf(1)
	for _, x := range s.samples {
		lowest = min(lowest, x.v)
	}
	delta := round(v - lowest)
	s.last = point.FloatField(r.Field, delta)
	switch {
	case delta > r.Delta:
		return e.raise(out, s, delta, now)
	case delta <= r.Delta/2 && s.active():
		// Hysteresis: clear at half the rise, and only once the readings
		// cover half the window (after a restart they start afresh).
		if at.Sub(s.samples[0].at) >= time.Duration(r.Window)/2 {
			return e.clear(out, s, delta, now)
		}
	}
	return out
}

// Tick fires the deadlines due by now: held conditions, silences, event
// expiries, re-notifications, parents' children surfacing and the end of
// maintenance windows.
func (e *Engine) Tick(now time.Time) []Transition {
	var (
		out    []Transition
		silent []*ruleState
	)
	if len(e.maint) > 0 { // sorted, so windows ending together end in a stable order
		for _, m := range e.Maintenance() {
			if m.Until.IsZero() || m.Until.After(now) {
				continue
			}
			out = e.endMaintenance(out, e.maint[m.Target], "schedule", now)
		}
	}
	for n := now.UnixNano(); len(e.due) > 0 && e.due[0].at <= n; {
		d := heap.Pop(&e.due).(*timer)
		s := d.s
		switch d.what {
		case dueRenotify:
			if a := s.alert; s.active() && a.Ack == nil && !a.Suppressed {
				a.NotifiedAt = now
				out = append(out, Transition{Kind: Renotified, At: now, Alert: *a})
				e.set(s, dueRenotify, now.Add(e.o.Renotify))
			}
			continue
		case dueSurface:
			if !s.active() {
				out = e.surface(out, s, now)
			}
			continue
		}
		a := s.alert
		switch s.rule.Kind {
		case Silence:
			if t, _ := timeout(s.rule, s.dev); !s.active() && !s.lastSeen.IsZero() && !now.Before(s.lastSeen.Add(t)) {
				silent = append(silent, s)
			}
		case Event:
			if s.active() && !now.Before(a.lastAt().Add(time.Duration(s.rule.ClearAfter))) {
				out = e.clear(out, s, nil, now)
			}
		case Stuck:
			if !s.active() && !s.raiseSince.IsZero() && !now.Before(s.raiseSince.Add(time.Duration(s.rule.For))) {
				out = e.raise(out, s, s.last.Value(), now)
			}
		case Threshold:
			switch {
			case !s.active() && !s.raiseSince.IsZero() && !now.Before(s.raiseSince.Add(time.Duration(s.rule.Raise.For))):
				out = e.raise(out, s, s.last.Value(), now)
			case s.active() && !s.clearSince.IsZero() && !now.Before(s.clearSince.Add(time.Duration(s.rule.Clear.For))):
				out = e.clear(out, s, s.last.Value(), now)
			}
		}
	}
	if len(silent) > 0 {
		out = e.goSilent(out, silent, now)
	}
	return out
}

// NextDeadline is when Tick next has something to do.
func (e *Engine) NextDeadline() (time.Time, bool) {
	var (
		next time.Time
		ok   bool
	)
	if len(e.due) > 0 {
		next, ok = time.Unix(0, e.due[0].at), true
	}
	for _, m := range e.maint {
		if !m.Until.IsZero() && (!ok || m.Until.Before(next)) {
			next, ok = m.Until, true
		}
	}
	return next, ok
}

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
		a.State, a.Value, a.UpdatedAt, a.LastAt, a.NotifiedAt, a.Message = Active, value, now, now, now, msg
		a.Flaps++
		a.Count++
		// A condition that cleared and came back on its own within the
		// window is one flapping fault: it keeps its acknowledgement (the
		// wall shows "chập chờn ×N" instead of a new, flashing alert). One
		// resolved by a person and back is news: it needs a new one.
		if a.ResolvedBy != "auto" {
			a.Ack = nil
		}
		a.ResolvedAt, a.ResolvedBy = time.Time{}, ""
		a.Parent, a.Suppressed = e.foldTarget(s), e.inMaintenance(d, now)
		e.renotifyLater(s, now)
		e.countOffline(s, +1)
		out = append(out, Transition{Kind: Reopened, At: now, Alert: *a})
		return e.foldChildren(out, s, now)
	}
	a = &Alert{ID: s.id, Rule: r.ID, RuleKind: r.Kind, Device: d.ID, DeviceKind: d.Kind, District: d.District,
		Severity: r.Severity, State: Active, Value: value, Message: msg, RaisedAt: now, UpdatedAt: now, LastAt: now, NotifiedAt: now, Count: 1,
		Parent: e.foldTarget(s), Suppressed: e.inMaintenance(d, now)}
	s.alert = a
	e.renotifyLater(s, now)
	e.countOffline(s, +1)
	out = append(out, Transition{Kind: Raised, At: now, Alert: *a})
	if r.Kind == Silence {
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
	out = append(out, Transition{Kind: Cleared, At: now, Alert: *a, By: by, Note: note})
	e.countOffline(s, -1)
	if s.rule.Kind == Silence {
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

// Alert returns the alert with id, active or recently resolved.
func (e *Engine) Alert(id string) (Alert, bool) {
	s := e.byID[id]
	if s == nil || s.alert == nil {
		return Alert{}, false
	}
	return *s.alert, true
}

// Active returns the active alerts, most severe and then oldest first.
func (e *Engine) Active() []Alert {
	var out []Alert
	for _, s := range e.byID {
		if s.active() {
			out = append(out, *s.alert)
		}
	}
	SortAlerts(out)
	return out
}

// Alerts returns every alert the engine holds: active ones and those
// resolved within the flap window (what Restore needs back).
func (e *Engine) Alerts() []Alert {
	var out []Alert
	for _, s := range e.byID {
		if s.alert != nil {
			out = append(out, *s.alert)
		}
	}
	SortAlerts(out)
	return out
}

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

// Restore brings back alerts saved by an earlier process, before Start:
// active ones stay active (offline devices stay offline until they
// report), resolved ones still count for flap detection. Alerts whose rule
// or device is gone are skipped and returned.
func (e *Engine) Restore(alerts []Alert, maint []Maintenance, now time.Time) (skipped []string) {
	for i := range maint {
		// One that ended while no process ran is ended by the first Tick,
		// which announces its alerts again.
		m := maint[i]
		e.maint[m.Target] = &m
	}
	for i := range alerts {
		a := alerts[i]
		r := e.rules.byID(a.Rule)
		var d *registry.Device
		if a.DeviceKind == DistrictKind {
			if r != nil && r.Kind == Silence {
				if ds := e.districts[stateKey{r.ID, a.District}]; ds != nil {
					d = ds.pseudo(e.reg)
				}
			}
		} else if de := e.devs[a.Device]; de != nil && r != nil && r.Applies(de.dev) {
			d = de.dev
		}
		if d == nil || (a.State == Resolved && now.Sub(a.ResolvedAt) >= e.o.FlapWindow) {
			skipped = append(skipped, a.ID)
			continue
		}
		s := e.st(r, d)
		s.alert = &a
		if a.State != Active {
			if t, ok := timeout(r, d); ok && r.Kind == Silence && a.ResolvedBy == "auto" {
				// It reported before the restart: silent from now on, it
				// goes offline one timeout after start like any device.
				s.lastSeen = now
				e.schedule(s, now.Add(t))
			}
			continue
		}
		e.countOffline(s, +1)
		switch r.Kind {
		case Silence:
			s.lastSeen = time.Time{} // offline until it reports
		case Event:
			e.set(s, dueCondition, a.lastAt().Add(time.Duration(r.ClearAfter)))
		}
		if r.Severity == Critical && a.Ack == nil && !a.Suppressed {
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
		if !cs.active() || a.Parent == "" || cs.rule.Kind != Silence {
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
// rule or device is gone, or is no longer in the rule's scope, are
// resolved by "config". Devices new to a silence rule are armed from now.
func (e *Engine) Reconfigure(rules *Rules, reg *registry.Registry, now time.Time) []Transition {
	if rules != nil {
		e.rules = rules
	}
	if reg != nil {
		e.reg = reg
	}
	e.index()
	var out []Transition
	ids := make([]string, 0, len(e.byID))
	for id := range e.byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		s := e.byID[id]
		r := e.rules.byID(s.rule.ID)
		var d *registry.Device
		if s.dev.Kind == DistrictKind {
			if ds := e.districts[stateKey{s.rule.ID, s.dev.District}]; ds != nil && r != nil && r.Kind == Silence && ds.total > 0 {
				d = ds.pseudo(e.reg)
			}
		} else if de := e.devs[s.dev.ID]; de != nil && r != nil && r.Applies(de.dev) {
			d = de.dev
		}
		if d == nil || r.Kind != s.rule.Kind {
			if s.active() {
				out = e.close(out, s, nil, "config", "rule or device removed from the configuration", now)
			}
			s.removed = true
			e.touchWindow(s)
			for w := range s.timers {
				e.stop(s, uint8(w))
			}
			delete(e.byID, id)
			delete(e.state, stateKey{s.rule.ID, s.dev.ID})
			continue
		}
		s.rule, s.dev = r, d
		if s.active() {
			e.countOffline(s, +1)
		}
		if r.Kind == Silence && !s.active() && !s.lastSeen.IsZero() {
			t, _ := timeout(r, d)
			e.set(s, dueCondition, s.lastSeen.Add(t))
		}
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

func (e *Engine) schedule(s *ruleState, at time.Time) { e.set(s, dueCondition, at) }

// What a timer is for.
const (
	dueCondition uint8 = iota // a held condition, a silence, an event expiry
	dueRenotify               // announce an unacknowledged critical alert again
	dueSurface                // a parent is back: surface children still down
)

// timer is one pending deadline of a state, at most one per purpose.
type timer struct {
	at   int64 // unix ns
	s    *ruleState
	idx  int32 // position in the heap, -1 when not queued
	what uint8
}

// set (re)arms s's timer for what at at.
func (e *Engine) set(s *ruleState, what uint8, at time.Time) {
	t := &s.timers[what]
	t.at = at.UnixNano()
	if t.idx >= 0 {
		heap.Fix(&e.due, int(t.idx))
		return
	}
	heap.Push(&e.due, t)
}

// stop disarms s's timer for what.
func (e *Engine) stop(s *ruleState, what uint8) {
	if t := &s.timers[what]; t.idx >= 0 {
		heap.Remove(&e.due, int(t.idx))
	}
}

type deadlines []*timer

func (h deadlines) Len() int { return len(h) }
func (h deadlines) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	if a, b := h[i].s.id, h[j].s.id; a != b {
		return a < b // deterministic order
	}
	return h[i].what < h[j].what // a clear due at the same instant comes before a re-notification
}
func (h deadlines) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = int32(i), int32(j)
}
func (h *deadlines) Push(x any) {
	t := x.(*timer)
	t.idx = int32(len(*h))
	*h = append(*h, t)
}
func (h *deadlines) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.idx = -1
	return t
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

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func round(v float64) float64 { return math.Round(v*100) / 100 }

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func (e *Engine) render(s *ruleState, value any) map[string]string {
	if d := s.dev; d.Kind == DistrictKind {
		return map[string]string{
			"vi": fmt.Sprintf("Mất kết nối diện rộng tại %s: %v thiết bị", d.Name, value),
			"en": fmt.Sprintf("Widespread outage in %s: %v devices offline", d.Name, value),
		}
	}
	return render(s.rule, s.dev, value)
}

func render(r *Rule, d *registry.Device, value any) map[string]string {
	out := make(map[string]string, len(r.tmpl))
	data := map[string]any{"Device": d, "Value": value, "Rule": r}
	for lang, t := range r.tmpl {
		var b bytes.Buffer
		if err := t.Execute(&b, data); err != nil {
			out[lang] = r.ID + " " + d.ID // a template error must not hide the alert
			continue
		}
		out[lang] = b.String()
	}
	return out
}
