package alert

import (
	"container/heap"
	"time"
)

// What a timer is for.
const (
	dueCondition uint8 = iota // a held condition, a silence, an event expiry
	dueRenotify               // announce an unacknowledged critical alert again
	dueSurface                // a parent is back: surface children still down
	dueTarget                 // a response target (targets.go)
	timerKinds
)

// timer is one pending deadline of a state, at most one per purpose.
type timer struct {
	at   int64 // unix ns
	s    *ruleState
	idx  int32 // position in the heap, -1 when not queued
	what uint8
}

// schedule (re)arms s's condition deadline: the moment its rule kind has
// something to decide (see evaluator.due).
func (e *Engine) schedule(s *ruleState, at time.Time) { e.set(s, dueCondition, at) }

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

// deadlines is a min-heap of timers (container/heap), earliest first.
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
