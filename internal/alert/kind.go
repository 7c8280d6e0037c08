package alert

import (
	"time"

	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/registry"
)

// evaluator is what one rule kind does; each kind has its own file
// (threshold.go, rise.go, stuck.go, event.go, silence.go) with its
// parameters (a struct inlined in Rule, so the YAML keys stay flat) and
// its evaluator. The engine keeps what every kind shares: states, timers,
// the lifecycle, folding and maintenance.
//
// Adding a kind: a Kind constant, a file with its parameter struct (inlined
// in Rule) and an evaluator, a line in evaluators, a rig test beside the
// others, and a row in the rules table of docs/ALERTS.md.
type evaluator interface {
	// validate checks the kind's own parameters of r and fills in their
	// defaults; the fields every rule has are checked by Rule.validate.
	validate(r *Rule) error
	// observe evaluates one point of device d for rule r at now. It makes
	// the rule's state for d (Engine.st) only for a point it concerns.
	observe(e *Engine, r *Rule, d *registry.Device, p *point.Point, now time.Time, out []Transition) []Transition
	// due is s's condition deadline (Engine.schedule) firing at now.
	due(e *Engine, s *ruleState, now time.Time, out []Transition) []Transition
	// restore re-arms what s needs after Restore gave it back its alert
	// (active, or resolved within the flap window) from an earlier process.
	restore(e *Engine, s *ruleState, now time.Time)
	// start arms, for a device in the rule's scope the engine holds no
	// state for, what a device that never reports needs (Engine.Start).
	start(e *Engine, r *Rule, d *registry.Device, now time.Time)
	// reloaded re-arms s, kept across Reconfigure, under its new rule.
	reloaded(e *Engine, s *ruleState)
	// offline reports whether the kind's alerts say their device is
	// offline: they fold under their parent's or district's alert and
	// count toward a district outage (fold.go).
	offline() bool
}

// evaluators maps each rule kind to its evaluator. Evaluators hold no
// state; a rule's is looked up once, by Rule.validate.
var evaluators = map[Kind]evaluator{
	Threshold: threshold{},
	Rise:      rise{},
	Stuck:     stuck{},
	Event:     event{},
	Silence:   silence{},
}

// windowed is an evaluator whose condition windows are saved across a
// restart (windows.go).
type windowed interface {
	// window is s's window in progress: since when, and whether it is the
	// clear condition of an active alert; zero since when there is none.
	window(s *ruleState) (since time.Time, clear bool)
	// restoreWindow continues w, saved by an earlier process, in s.
	restoreWindow(e *Engine, s *ruleState, w Window, now time.Time)
}

// noHooks gives an evaluator the hooks it does not need.
type noHooks struct{}

func (noHooks) restore(*Engine, *ruleState, time.Time)            {}
func (noHooks) start(*Engine, *Rule, *registry.Device, time.Time) {}
func (noHooks) reloaded(*Engine, *ruleState)                      {}
func (noHooks) offline() bool                                     { return false }
