package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/prometheus/client_golang/prometheus"
)

// Deps are the service's collaborators.
type Deps struct {
	Registry *registry.Registry // device and district names
	DataDir  string             // notify.db
	Log      *slog.Logger
	Metrics  prometheus.Registerer
	Now      func() time.Time
	// Channels replaces the channels built from the configuration (tests,
	// or a province's own kind built in its own main).
	Channels map[string]Channel
}

// Service plans and delivers notifications. A nil *Service does nothing,
// so a process without notifications configured wires it the same way.
type Service struct {
	c        Config
	reg      *registry.Registry
	log      *slog.Logger
	now      func() time.Time
	db       *outbox
	channels map[string]Channel
	m        *metrics

	mu       sync.Mutex
	queue    []alert.Transition
	overflow bool // transitions were dropped: reconcile with the engine
	wake     chan struct{}

	// Planner goroutine only.
	incidents map[string]*incident
	senders   map[string]chan struct{} // one wake channel per channel
}

// queueMax bounds transitions waiting to be planned; past it they are
// dropped and the incidents reconciled with the engine's active alerts.
const queueMax = 50_000

// checkEvery is how often the clock is read at most: a clock that jumps
// (NTP, or a test's) is noticed within it.
const checkEvery = time.Second

// New opens notify.db in d.DataDir. It returns nil, nil when c has no
// policies.
func New(ctx context.Context, c Config, d Deps) (*Service, error) {
	if !c.Enabled() {
		return nil, nil
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Registry == nil {
		return nil, errors.New("notify: Registry is required")
	}
	chans := d.Channels
	if chans == nil {
		var err error
		if chans, err = newChannels(c.Channels, d.Now); err != nil {
			return nil, err
		}
	}
	for name, r := range c.Recipients {
		if chans[r.Channel] == nil {
			return nil, fmt.Errorf("notify: recipients.%s: channel %q is not built", name, r.Channel)
		}
	}
	db, err := openOutbox(ctx, filepath.Join(d.DataDir, "notify.db"))
	if err != nil {
		return nil, err
	}
	ins, err := db.incidents(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &Service{c: c, reg: d.Registry, log: d.Log, now: d.Now, db: db, channels: chans,
		wake: make(chan struct{}, 1), incidents: ins, senders: map[string]chan struct{}{}}
	s.m = newMetrics(d.Metrics, s)
	for name := range chans {
		s.senders[name] = make(chan struct{}, 1)
	}
	return s, nil
}

// Notify takes saved alert transitions (alertd hands them over after
// saving them). It never blocks: the planner takes them from a bounded
// queue.
func (s *Service) Notify(trs []alert.Transition) {
	if s == nil {
		return
	}
	s.mu.Lock()
	if len(s.queue)+len(trs) > queueMax {
		s.overflow = true
		s.m.dropped.Add(float64(len(trs)))
	} else {
		for _, t := range trs {
			if t.Maintenance == nil {
				s.queue = append(s.queue, t)
			}
		}
	}
	s.mu.Unlock()
	poke(s.wake)
}

func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Run plans and sends until ctx ends. active lists the engine's active
// alerts: at start (and after the queue overflowed) incidents are
// reconciled with it, so a transition lost to a crash between alerts.db
// and notify.db is not lost for notifications.
func (s *Service) Run(ctx context.Context, active func() []alert.Alert) {
	if s == nil {
		return
	}
	defer s.db.Close()
	if n, err := s.db.recover(ctx); err != nil {
		s.log.Error("notify: outbox", "err", err)
	} else if n > 0 {
		s.m.uncertain.Add(float64(n))
		s.log.Warn("notify: messages were being sent when the process stopped; sending them again with the same delivery key", "messages", n)
	}
	// Senders finish the message in hand after ctx ends: a normal stop
	// never leaves one uncertain.
	var wg sync.WaitGroup
	for name, ch := range s.channels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.send(ctx, name, ch)
		}()
	}
	s.plan(ctx, active)
	wg.Wait()
}

// plan is the planner loop.
func (s *Service) plan(ctx context.Context, active func() []alert.Alert) {
	reconcile := true
	lastPrune := time.Time{}
	for {
		s.mu.Lock()
		trs := s.queue
		s.queue = nil
		if s.overflow {
			reconcile, s.overflow = true, false
		}
		s.mu.Unlock()
		now := s.now()
		touched := map[string]bool{}
		for i := range trs {
			s.apply(&trs[i], touched)
		}
		if reconcile && active != nil {
			s.reconcile(active(), now, touched)
			reconcile = false
		}
		next := s.step(ctx, now, touched)
		if now.Sub(lastPrune) > time.Hour {
			if err := s.db.prune(ctx, now.Add(-7*24*time.Hour)); err != nil && ctx.Err() == nil {
				s.log.Warn("notify: pruning the outbox", "err", err)
			}
			lastPrune = now
		}
		wait := checkEvery
		if !next.IsZero() {
			wait = min(max(next.Sub(now), 0), checkEvery)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// apply records one transition in its incident.
func (s *Service) apply(t *alert.Transition, touched map[string]bool) {
	a := t.Alert
	in := s.incidents[a.ID]
	switch {
	case in == nil && (t.Kind == alert.Raised || t.Kind == alert.Reopened):
		in = &incident{Key: fmt.Sprintf("%s@%d", a.ID, t.At.Unix()), Since: t.At}
		s.incidents[a.ID] = in
	case in == nil:
		return // an alert raised before notifications were on: reconciled at start
	case a.UpdatedAt.Before(in.Alert.UpdatedAt):
		return // older than what the incident holds (reconciled from the engine)
	}
	in.Alert = a
	touched[a.ID] = true
}

// reconcile makes the incidents agree with the engine's active alerts.
func (s *Service) reconcile(active []alert.Alert, now time.Time, touched map[string]bool) {
	live := map[string]bool{}
	for _, a := range active {
		live[a.ID] = true
		in := s.incidents[a.ID]
		if in == nil {
			since := a.RaisedAt
			if a.Flaps > 0 && a.NotifiedAt.After(since) {
				since = a.NotifiedAt
			}
			in = &incident{Key: fmt.Sprintf("%s@%d", a.ID, since.Unix()), Since: since}
			s.incidents[a.ID] = in
		} else if a.UpdatedAt.Before(in.Alert.UpdatedAt) {
			continue
		}
		in.Alert = a
		touched[a.ID] = true
	}
	for id, in := range s.incidents {
		if !live[id] && in.Alert.State == alert.Active {
			in.Alert.State, in.Alert.ResolvedAt, in.Alert.UpdatedAt = alert.Resolved, now, now
			touched[id] = true
		}
	}
}

// step plans every incident touched or due, saves, and wakes the senders;
// it returns when the next incident is due.
func (s *Service) step(ctx context.Context, now time.Time, touched map[string]bool) time.Time {
	var (
		next    time.Time
		changed []*incident
		over    []string
		msgs    []row
	)
	ids := make([]string, 0, len(s.incidents))
	for id := range s.incidents {
		ids = append(ids, id)
	}
	sort.Strings(ids) // plans in a stable order: messages are sent in it
	updated := map[string]*incident{}
	for _, id := range ids {
		// Planned on a copy, kept only once saved: a failed save plans
		// the same steps again on the next pass.
		in := &incident{}
		*in = *s.incidents[id]
		in.Done, in.Told = slices.Clone(in.Done), slices.Clone(in.Told)
		before := len(in.Done)
		out, due, done := plan(in, s.c.Policies, s.c.Assignees, s.c.GroupWait, now)
		updated[id] = in
		if !due.IsZero() && (next.IsZero() || due.Before(next)) {
			next = due
		}
		for _, p := range out {
			msgs = append(msgs, s.messages(in, &p, now)...)
		}
		switch {
		case done:
			over = append(over, id)
		case touched[id] || len(in.Done) != before:
			changed = append(changed, in)
		}
	}
	if len(changed)+len(over)+len(msgs) == 0 {
		return next
	}
	added, err := s.db.save(ctx, changed, over, msgs)
	if err != nil {
		// Not saved: the plan is made again from the same incidents (kept
		// in memory, steps not marked) on the next pass.
		s.m.saveErrors.Inc()
		s.log.Error("notify: saving the outbox failed; retrying", "err", err)
		return now.Add(retryMin)
	}
	for id, in := range updated {
		s.incidents[id] = in
	}
	for _, id := range over {
		delete(s.incidents, id)
	}
	s.m.planned.Add(float64(added))
	if added > 0 {
		for _, c := range s.senders {
			poke(c)
		}
	}
	return next
}

// messages renders a planned step for each recipient.
func (s *Service) messages(in *incident, p *planned, now time.Time) []row {
	out := make([]row, 0, len(p.to))
	for _, name := range p.to {
		r := s.c.Recipients[name]
		m := Message{Key: in.Key + "/" + p.step + "/" + name, Incident: in.Key, Kind: p.kind, Alert: in.Alert.ID,
			Severity: string(in.Alert.Severity), Device: in.Alert.Device, District: in.Alert.District, Raised: in.Since, At: now}
		switch p.kind {
		case KindAcknowledged:
			if ack := in.Alert.Ack; ack != nil {
				m.At, m.By = ack.At, ack.By
			}
		case KindResolved:
			m.At, m.By = in.Alert.ResolvedAt, in.Alert.ResolvedBy
		case KindAssigned:
			if d := in.Alert.Dispatch; d != nil && len(d.Steps) > 0 {
				m.At, m.By = d.Steps[0].At, d.Steps[0].By
			}
		case KindAckOverdue:
			m.At = in.Alert.AckDue
		case KindRestoreOverdue:
			m.At = in.Alert.RestoreDue
		}
		render(&m, &in.Alert, s.reg, s.c.People, s.c.Language, s.c.BaseURL, p.after)
		out = append(out, row{Key: m.Key, Recipient: name, Channel: r.Channel, Created: now, Msg: m})
	}
	return out
}

// Backoff between attempts of a message: from retryMin, doubling, at most
// retryMax, with jitter so that channels recovering together spread out.
const (
	retryMin = 5 * time.Second
	retryMax = 5 * time.Minute
)

func backoff(attempts int) time.Duration {
	d := retryMin << min(attempts-1, 10)
	d = min(d, retryMax)
	return d/2 + rand.N(d/2+1)
}

// send is one channel's sender: its messages in order, one at a time.
func (s *Service) send(ctx context.Context, name string, ch Channel) {
	var blocked time.Time // the provider asked us to wait until then
	for {
		now := s.now()
		wait := checkEvery
		if now.Before(blocked) {
			wait = min(blocked.Sub(now), checkEvery)
		} else if r, ok, wake, err := s.db.next(ctx, name, now); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Error("notify: reading the outbox", "channel", name, "err", err)
		} else if ok {
			if until := s.deliver(ctx, ch, &r); !until.IsZero() {
				blocked = until
			}
			if ctx.Err() != nil {
				return
			}
			continue
		} else if !wake.IsZero() {
			wait = min(wake.Sub(now), checkEvery)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.senders[name]:
		case <-t.C:
		}
		t.Stop()
	}
}

// deliver sends one message and records the outcome; it returns when the
// channel may be used again if the provider rate-limited it.
func (s *Service) deliver(ctx context.Context, ch Channel, r *row) (blockedUntil time.Time) {
	// What is decided is recorded even if ctx ends meanwhile.
	dbCtx := context.WithoutCancel(ctx)
	if err := s.db.sending(dbCtx, r.ID); err != nil {
		s.log.Error("notify: outbox", "err", err)
		return s.now().Add(retryMin)
	}
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.c.Channels[r.Channel].Timeout+time.Second)
	start := time.Now()
	ref, err := ch.Send(sendCtx, s.c.Recipients[r.Recipient].To, &r.Msg)
	cancel()
	s.m.sendSeconds.WithLabelValues(r.Channel).Observe(time.Since(start).Seconds())
	now := s.now()
	var rl *RateLimited
	switch {
	case err == nil:
		if err := s.db.sent(dbCtx, r, ref, now); err != nil {
			s.log.Error("notify: recording a sent message failed; it may be sent again", "key", r.Key, "err", err)
		}
		s.m.results.WithLabelValues(r.Channel, "sent").Inc()
		s.log.Info("notify: sent", "channel", r.Channel, "recipient", r.Recipient, "key", r.Key)
		return time.Time{}
	case IsPermanent(err):
		s.failed(dbCtx, r, now, err)
		return time.Time{}
	case now.Sub(r.Created) > s.c.GiveUpAfter:
		s.failed(dbCtx, r, now, fmt.Errorf("gave up after %s: %w", s.c.GiveUpAfter, err))
		return time.Time{}
	case errors.As(err, &rl):
		at := now.Add(rl.After)
		_ = s.db.retry(dbCtx, r.ID, at, err.Error())
		s.m.results.WithLabelValues(r.Channel, "rate_limited").Inc()
		s.log.Warn("notify: rate limited by the provider; waiting as it asks", "channel", r.Channel, "retry_after", rl.After, "err", err)
		return at
	default:
		at := now.Add(backoff(r.Attempts + 1))
		_ = s.db.retry(dbCtx, r.ID, at, err.Error())
		s.m.results.WithLabelValues(r.Channel, "retried").Inc()
		s.log.Warn("notify: send failed; retrying", "channel", r.Channel, "recipient", r.Recipient, "retry_at", at, "err", err)
		// Later messages of the channel wait too: the provider is down
		// for them as well.
		return at
	}
}

func (s *Service) failed(ctx context.Context, r *row, now time.Time, err error) {
	if dbErr := s.db.fail(ctx, r.ID, now, err.Error()); dbErr != nil {
		s.log.Error("notify: outbox", "err", dbErr)
	}
	s.m.results.WithLabelValues(r.Channel, "failed").Inc()
	s.log.Error("notify: message not delivered; see GET /-/notify and retry it with POST /-/notify/retry", "channel", r.Channel, "recipient", r.Recipient, "key", r.Key, "err", err)
}
