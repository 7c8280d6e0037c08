package alert

import (
	"time"

	"github.com/ioc-vn/ioc/internal/point"
)

// Window is a threshold or stuck rule's condition window in progress for
// one device: the raise condition (or, with Clear, the clear condition of
// the active alert; for stuck, the same value) has held since Since. The
// owner saves windows as they open and close (WindowChanges) and gives
// them back after a restart (RestoreWindows), so a restart neither
// restarts nor forgets a window.
type Window struct {
	Rule   string `json:"rule"`
	Device string `json:"device"`
	Clear  bool   `json:"clear,omitempty"`
	// Since is when the condition began to hold; zero in WindowChanges
	// means the window closed.
	Since time.Time `json:"since"`
	// Last is the reading that opened the window (threshold) or the value
	// that keeps it open (stuck).
	Last point.Field `json:"last"`
}

// ID is the window's alert id, "<rule>/<device>".
func (w *Window) ID() string { return w.Rule + "/" + w.Device }

// window is s's window worth saving, if any.
func (s *ruleState) window() (Window, bool) {
	wk, ok := s.rule.eval.(windowed)
	if s.removed || !ok {
		return Window{}, false
	}
	w := Window{Rule: s.rule.ID, Device: s.dev.ID, Last: s.last}
	w.Since, w.Clear = wk.window(s)
	return w, !w.Since.IsZero()
}

// touch queues s's window for WindowChanges.
func (e *Engine) touch(s *ruleState) {
	if !s.dirty {
		s.dirty = true
		e.dirty = append(e.dirty, s)
	}
}

// touchWindow queues s's window when its rule keeps windows.
func (e *Engine) touchWindow(s *ruleState) {
	if _, ok := s.rule.eval.(windowed); ok {
		e.touch(s)
	}
}

// WindowChanges returns the windows that opened, turned (raise to clear)
// or closed (zero Since) since the last call, once each, for saving. A
// window is written when it opens or closes, not with every reading that
// continues it; a stuck rule's window only once its value has come twice.
func (e *Engine) WindowChanges() []Window {
	var out []Window
	for _, s := range e.dirty {
		s.dirty = false
		w, ok := s.window()
		switch {
		case ok && w.Since.Equal(s.savedSince) && w.Clear == s.savedClear:
			continue // unchanged
		case !ok && s.savedSince.IsZero():
			continue // never saved
		case !ok:
			w = Window{Rule: s.rule.ID, Device: s.dev.ID}
		}
		s.savedSince, s.savedClear = w.Since, w.Clear
		out = append(out, w)
	}
	clear(e.dirty)
	e.dirty = e.dirty[:0]
	return out
}

// Windows returns every window worth saving, by alert id: what the saved
// windows should hold now.
func (e *Engine) Windows() []Window {
	var out []Window
	for _, s := range e.sortedStates() {
		if w, ok := s.window(); ok {
			out = append(out, w)
		}
	}
	return out
}

// RestoreWindows brings back windows saved by an earlier process, after
// Restore and before Start. A window continues: its deadline stays where
// it was, and readings after the restart continue or break it as they
// would have. A window whose deadline passed while no process was
// watching completes at the first reading after the restart that still
// holds (the readings in between were not seen). Windows whose rule or
// device is gone, or that no longer match their alert (a raise window of
// an active alert), are dropped.
func (e *Engine) RestoreWindows(ws []Window, now time.Time) {
	for _, w := range ws {
		r, de := e.rules.byID(w.Rule), e.devs[w.Device]
		if r == nil || de == nil || !r.Applies(de.dev) || w.Since.IsZero() || w.Since.After(now) {
			continue
		}
		if wk, ok := r.eval.(windowed); ok {
			wk.restoreWindow(e, e.st(r, de.dev), w, now)
		}
	}
}
