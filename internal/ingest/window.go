package ingest

import "sync"

// Window is the pipeline's intake: a place for every message received and
// not yet acknowledged, at most MaxInFlight. It is built before the source
// that feeds it (the embedded broker, the MQTT subscription) and the
// pipeline that drains it, so that neither has to exist before the other.
type Window struct {
	slots    chan struct{} // one per unacknowledged message
	in       chan Message
	stopping chan struct{}
	stopOnce sync.Once
}

// NewWindow makes a window of maxInFlight messages.
func NewWindow(maxInFlight int) *Window {
	return &Window{
		slots:    make(chan struct{}, maxInFlight),
		in:       make(chan Message, maxInFlight),
		stopping: make(chan struct{}),
	}
}

// Handle takes one message from its source. It blocks while the window
// is full, which stops reading from the broker: the backpressure that
// keeps memory bounded. After shutdown has begun it returns at once,
// leaving the message unacknowledged for redelivery.
func (w *Window) Handle(m Message) {
	select {
	case w.slots <- struct{}{}:
	case <-w.stopping:
		return
	}
	select {
	case <-w.stopping:
		<-w.slots
	default:
		w.in <- m // never blocks: in has a place for every slot
	}
}

// stop makes Handle return at once from now on.
func (w *Window) stop() { w.stopOnce.Do(func() { close(w.stopping) }) }

// Done is closed once the pipeline stops taking messages (shutdown).
func (w *Window) Done() <-chan struct{} { return w.stopping }
