package alert

import (
	"bytes"
	"container/heap"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/registry"
)

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
	silent    []*ruleState // silences due in the Tick under way (silence.due)

	// live holds the devices registered as commissioning that have gone
	// live (commissioning.go); wentLive those since TakeCommissioned.
	live     map[string]bool
	wentLive []string
}

type stateKey struct{ rule, dev string }

type devEntry struct {
	dev      *registry.Device
	rules    []*Rule  // the rules whose scope includes it
	children []string // devices whose parent it is
}

// ruleState is one rule's state for one device: its alert and what its
// rule kind tracks between readings.
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
	// dueRenotify, dueSurface, dueTarget), moved in place, so the deadline heap never
	// holds more than four entries per state however fast messages come.
	timers [timerKinds]timer
}

func (s *ruleState) active() bool { return s.alert != nil && s.alert.State == Active }

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
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultOptions.MaxAge
	}
	e := &Engine{rules: rules, reg: reg, o: o, state: map[stateKey]*ruleState{}, byID: map[string]*ruleState{},
		districts: map[stateKey]*districtState{}, maint: map[string]*Maintenance{}, live: map[string]bool{}}
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
	e.indexDistricts()
}

// Start arms what every device in scope needs from now, if the engine
// holds no state for it: a device that never reports goes offline one
// timeout after start.
func (e *Engine) Start(now time.Time) {
	for _, de := range e.devs {
		for _, r := range de.rules {
			r.eval.start(e, r, de.dev, now)
		}
	}
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
	if e.commissioning(d) {
		e.goLive(d.ID)
	}
	var out []Transition
	old := now.Add(-e.o.MaxAge)
	for _, r := range de.rules {
		for i := range pts {
			if pts[i].Time.Before(old) && !r.eval.offline() {
				continue // stored, but too old to raise or clear (Options.MaxAge)
			}
			out = r.eval.observe(e, r, d, &pts[i], now, out)
		}
	}
	return out
}

// TooOld reports whether a point stamped at t, observed at now, is past
// Options.MaxAge: stored, but it raises and clears no alert.
func (e *Engine) TooOld(t, now time.Time) bool { return t.Before(now.Add(-e.o.MaxAge)) }

// Tick fires the deadlines due by now: held conditions, silences, event
// expiries, re-notifications, parents' children surfacing and the end of
// maintenance windows.
func (e *Engine) Tick(now time.Time) []Transition {
	var out []Transition
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
			out = e.renotify(out, s, now)
		case dueSurface:
			if !s.active() {
				out = e.surface(out, s, now)
			}
		case dueTarget:
			out = e.overdue(out, s, now)
		default:
			out = s.rule.eval.due(e, s, now, out)
		}
	}
	if len(e.silent) > 0 {
		out = e.goSilent(out, e.silent, now)
		clear(e.silent)
		e.silent = e.silent[:0]
	}
	return out
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

func (e *Engine) render(s *ruleState, value any) map[string]string {
	if d := s.dev; d.Kind == DistrictKind {
		return districtMessage(d.Name, value)
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

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
