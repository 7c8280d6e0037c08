package alert

import (
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"math"
	"sort"
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
	Raised     = "raised"
	Updated    = "updated"
	Reopened   = "reopened" // raised again within the flap window: the same alert, Flaps+1
	Renotified = "renotified"
	Acked      = "acked"
	Cleared    = "resolved"
)

// Ack records who acknowledged an alert.
type Ack struct {
	By   string    `json:"by"`
	At   time.Time `json:"at"`
	Note string    `json:"note,omitempty"`
}

// Alert is one (rule, device) alert. Its ID is "<rule>/<device>".
type Alert struct {
	ID         string            `json:"id"`
	Rule       string            `json:"rule"`
	Device     string            `json:"device"`
	District   string            `json:"district"`
	Severity   Severity          `json:"severity"`
	State      string            `json:"state"`
	Value      any               `json:"value"`
	Message    map[string]string `json:"message"` // "vi", "en"
	RaisedAt   time.Time         `json:"raised_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
	Count      int               `json:"count"`
	Flaps      int               `json:"flaps"`
	Ack        *Ack              `json:"ack,omitempty"`
	ResolvedAt time.Time         `json:"resolved_at,omitzero"`
	ResolvedBy string            `json:"resolved_by,omitempty"` // "auto" or who
}

// Transition is one change of one alert; Alert is a copy after the change.
type Transition struct {
	Kind  string
	At    time.Time
	Alert Alert
}

// Options tune the lifecycle.
type Options struct {
	// FlapWindow: an alert raised again this soon after it resolved is
	// reopened (the same alert, Flaps+1) instead of a new one.
	FlapWindow time.Duration
	// Renotify: an active, unacknowledged critical alert is announced
	// again this often.
	Renotify time.Duration
}

// DefaultOptions are used for zero fields.
var DefaultOptions = Options{FlapWindow: 10 * time.Minute, Renotify: 15 * time.Minute}

// Engine evaluates rules over devices. It is not safe for concurrent use:
// one goroutine owns it (ingest's alert loop).
type Engine struct {
	rules *Rules
	reg   *registry.Registry
	o     Options

	state  map[string]*ruleState // by alert id
	alerts map[string]*Alert     // active, and resolved within the flap window
	due    deadlines
}

type ruleState struct {
	rule *Rule
	dev  *registry.Device

	raiseSince, clearSince time.Time // threshold: when the condition began to hold
	last                   any       // last value seen
	lastSeen               time.Time // silence: last message
	samples                []sample  // rise: readings within the window
	waitClear              bool      // resolved by hand: re-raise only after it clears
	gen                    uint64    // invalidates stale condition deadlines
	notifyGen              uint64    // invalidates stale re-notifications
}

type sample struct {
	at time.Time
	v  float64
}

// NewEngine builds an engine; call Start before the first Observe.
func NewEngine(rules *Rules, reg *registry.Registry, o Options) *Engine {
	if o.FlapWindow <= 0 {
		o.FlapWindow = DefaultOptions.FlapWindow
	}
	if o.Renotify <= 0 {
		o.Renotify = DefaultOptions.Renotify
	}
	return &Engine{rules: rules, reg: reg, o: o, state: map[string]*ruleState{}, alerts: map[string]*Alert{}}
}

// Start arms silence deadlines for every device in scope, counted from now:
// a device that never reports goes offline one timeout after start.
func (e *Engine) Start(now time.Time) {
	for _, d := range e.reg.Devices() {
		for _, r := range e.rules.List {
			if r.Kind == Silence && r.Applies(d) {
				if t, ok := timeout(r, d); ok {
					s := e.st(r, d)
					s.lastSeen = now
					e.schedule(s, now.Add(t))
				}
			}
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
	id := r.ID + "/" + d.ID
	s, ok := e.state[id]
	if !ok {
		s = &ruleState{rule: r, dev: d}
		e.state[id] = s
	}
	return s
}

// Observe evaluates a device's new points at now.
func (e *Engine) Observe(d *registry.Device, pts []point.Point, now time.Time) []Transition {
	var out []Transition
	for _, r := range e.rules.List {
		if !r.Applies(d) {
			continue
		}
		for i := range pts {
			p := &pts[i]
			switch r.Kind {
			case Silence:
				if _, ok := timeout(r, d); !ok || (r.Measurement != "any" && r.Measurement != p.Measurement) {
					continue
				}
				s := e.st(r, d)
				if f, ok := p.Field("state"); ok && p.Measurement == "status" && f.Kind == point.String && f.S == "offline" {
					s.lastSeen = time.Time{}
					out = e.raise(out, s, "offline", now)
					continue
				}
				t, _ := timeout(r, d)
				if p.Time.Before(now.Add(-t)) {
					continue // an old backlog reading says nothing about now
				}
				s.lastSeen = now
				e.schedule(s, now.Add(t))
				out = e.clear(out, s, nil, now)
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

func (e *Engine) threshold(out []Transition, s *ruleState, f point.Field, now time.Time) []Transition {
	r := s.rule
	s.last = f.Value()
	a := e.alerts[r.ID+"/"+s.dev.ID]
	active := a != nil && a.State == Active
	if !active {
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
		return e.raise(out, s, s.last, now)
	}
	s.raiseSince = time.Time{}
	if !holds(r.Clear, f, s.dev) {
		s.clearSince = time.Time{}
		a.Value = s.last // still active: keep the latest value on the wall
		return out
	}
	if !e.held(s, &s.clearSince, r.Clear, now) {
		return out
	}
	return e.clear(out, s, s.last, now)
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
	delta := v - lowest
	s.last = round(delta)
	switch {
	case delta > r.Delta:
		return e.raise(out, s, s.last, now)
	case delta <= r.Delta/2: // hysteresis: clear at half the rise
		return e.clear(out, s, s.last, now)
	}
	return out
}

// Tick fires the deadlines due by now: held conditions, silences, event
// expiries and re-notifications.
func (e *Engine) Tick(now time.Time) []Transition {
	var out []Transition
	for len(e.due) > 0 && !e.due[0].at.After(now) {
		d := heap.Pop(&e.due).(deadline)
		s := d.s
		id := s.rule.ID + "/" + s.dev.ID
		a := e.alerts[id]
		active := a != nil && a.State == Active
		if d.renotify {
			if d.gen == s.notifyGen && active && a.Ack == nil {
				out = append(out, Transition{Kind: Renotified, At: now, Alert: *a})
				heap.Push(&e.due, deadline{at: now.Add(e.o.Renotify), s: s, gen: s.notifyGen, renotify: true})
			}
			continue
		}
		if d.gen != s.gen {
			continue // superseded
		}
		switch s.rule.Kind {
		case Silence:
			if t, _ := timeout(s.rule, s.dev); !active && !s.lastSeen.IsZero() && !now.Before(s.lastSeen.Add(t)) {
				out = e.raise(out, s, fmt.Sprintf("silent %s", now.Sub(s.lastSeen).Round(time.Second)), now)
			}
		case Event:
			if active && !now.Before(a.UpdatedAt.Add(time.Duration(s.rule.ClearAfter))) {
				out = e.clear(out, s, a.Value, now)
			}
		case Threshold:
			switch {
			case !active && !s.raiseSince.IsZero() && !now.Before(s.raiseSince.Add(time.Duration(s.rule.Raise.For))):
				out = e.raise(out, s, s.last, now)
			case active && !s.clearSince.IsZero() && !now.Before(s.clearSince.Add(time.Duration(s.rule.Clear.For))):
				out = e.clear(out, s, s.last, now)
			}
		}
	}
	return out
}

// NextDeadline is when Tick next has something to do.
func (e *Engine) NextDeadline() (time.Time, bool) {
	if len(e.due) == 0 {
		return time.Time{}, false
	}
	return e.due[0].at, true
}

func (e *Engine) raise(out []Transition, s *ruleState, value any, now time.Time) []Transition {
	r, d := s.rule, s.dev
	id := r.ID + "/" + d.ID
	msg := render(r, d, value)
	a := e.alerts[id]
	switch {
	case a != nil && a.State == Active:
		a.Value, a.UpdatedAt, a.Message = value, now, msg
		a.Count++
		return append(out, Transition{Kind: Updated, At: now, Alert: *a})
	case a != nil && now.Sub(a.ResolvedAt) < e.o.FlapWindow:
		a.State, a.Value, a.UpdatedAt, a.Message = Active, value, now, msg
		a.Flaps++
		a.Count++
		a.ResolvedAt, a.ResolvedBy, a.Ack = time.Time{}, "", nil
		e.renotifyLater(s, now)
		return append(out, Transition{Kind: Reopened, At: now, Alert: *a})
	}
	a = &Alert{ID: id, Rule: r.ID, Device: d.ID, District: d.District, Severity: r.Severity, State: Active,
		Value: value, Message: msg, RaisedAt: now, UpdatedAt: now, Count: 1}
	e.alerts[id] = a
	e.renotifyLater(s, now)
	return append(out, Transition{Kind: Raised, At: now, Alert: *a})
}

// renotifyLater starts a new re-notification chain for a critical alert,
// ending any earlier one.
func (e *Engine) renotifyLater(s *ruleState, now time.Time) {
	s.notifyGen++
	if s.rule.Severity == Critical {
		heap.Push(&e.due, deadline{at: now.Add(e.o.Renotify), s: s, gen: s.notifyGen, renotify: true})
	}
}

func (e *Engine) clear(out []Transition, s *ruleState, value any, now time.Time) []Transition {
	a := e.alerts[s.rule.ID+"/"+s.dev.ID]
	if a == nil || a.State != Active {
		return out
	}
	if value != nil {
		a.Value = value
	}
	a.State, a.ResolvedAt, a.ResolvedBy, a.UpdatedAt = Resolved, now, "auto", now
	s.raiseSince, s.clearSince = time.Time{}, time.Time{}
	s.notifyGen++
	return append(out, Transition{Kind: Cleared, At: now, Alert: *a})
}

// Acknowledge records that an operator has seen an active alert.
func (e *Engine) Acknowledge(id, by, note string, now time.Time) (Transition, error) {
	a := e.alerts[id]
	if a == nil || a.State != Active {
		return Transition{}, fmt.Errorf("alert %q is not active", id)
	}
	if by == "" {
		return Transition{}, errors.New("an acknowledgement needs who")
	}
	a.Ack = &Ack{By: by, At: now, Note: note}
	a.UpdatedAt = now
	return Transition{Kind: Acked, At: now, Alert: *a}, nil
}

// Resolve closes an active alert by hand. It raises again only after its
// condition has cleared and comes back.
func (e *Engine) Resolve(id, by, note string, now time.Time) (Transition, error) {
	a := e.alerts[id]
	if a == nil || a.State != Active {
		return Transition{}, fmt.Errorf("alert %q is not active", id)
	}
	if by == "" {
		return Transition{}, errors.New("a resolution needs who")
	}
	if s := e.state[id]; s != nil {
		s.waitClear = true
		s.gen++ // drop its pending deadlines
		s.notifyGen++
	}
	a.State, a.ResolvedAt, a.ResolvedBy, a.UpdatedAt = Resolved, now, by, now
	if note != "" {
		if a.Ack == nil {
			a.Ack = &Ack{By: by, At: now}
		}
		a.Ack.Note = note
	}
	return Transition{Kind: Cleared, At: now, Alert: *a}, nil
}

// Active returns the active alerts, most severe and then oldest first.
func (e *Engine) Active() []Alert {
	var out []Alert
	for _, a := range e.alerts {
		if a.State == Active {
			out = append(out, *a)
		}
	}
	rank := map[Severity]int{Critical: 0, Major: 1, Minor: 2, Info: 3}
	sort.Slice(out, func(i, j int) bool {
		if rank[out[i].Severity] != rank[out[j].Severity] {
			return rank[out[i].Severity] < rank[out[j].Severity]
		}
		return out[i].RaisedAt.Before(out[j].RaisedAt)
	})
	return out
}

func (e *Engine) schedule(s *ruleState, at time.Time) {
	s.gen++
	heap.Push(&e.due, deadline{at: at, s: s, gen: s.gen})
}

type deadline struct {
	at       time.Time
	s        *ruleState
	gen      uint64
	renotify bool
}

type deadlines []deadline

func (h deadlines) Len() int { return len(h) }
func (h deadlines) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	if a, b := h[i].s.rule.ID+"/"+h[i].s.dev.ID, h[j].s.rule.ID+"/"+h[j].s.dev.ID; a != b {
		return a < b // deterministic order
	}
	return !h[i].renotify && h[j].renotify // a clear due at the same instant comes first
}
func (h deadlines) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *deadlines) Push(x any)   { *h = append(*h, x.(deadline)) }
func (h *deadlines) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
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

func round(v float64) float64 { return math.Round(v*100) / 100 }

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
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
