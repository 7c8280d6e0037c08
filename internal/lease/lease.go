// Package lease decides which of several ingest processes owns alerting,
// through the MQTT broker they already share: a retained record on one
// topic says who owns it, under which epoch, and when it was last renewed.
//
// The owner republishes its record every Renew. A standby takes over when
// the record is released (the owner's last will, published by the broker
// when the owner's connection ends uncleanly, or the owner's own release on
// a clean stop), or when no renewal has been heard for TTL. A takeover is a
// claim under a higher epoch that must come back from the broker and stand
// for Settle before the claimant owns: two claims under the same epoch are
// settled by the smaller owner id, and a higher epoch always wins, so a
// stale owner that comes back steps down as soon as it hears the newer
// record. An owner that cannot renew (no record of its own has come back
// for TTL-Renew) stops owning before any standby can take over.
//
// The lease only decides; the caller publishes (QoS 0 retained, so that a
// record is never queued and delivered late) and feeds back what it hears
// on the topic (Observe) and whether it is connected (Connected).
package lease

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"
)

// Record is the lease as held by the broker (JSON on the lease topic).
type Record struct {
	Owner     string    `json:"owner"`
	Epoch     uint64    `json:"epoch"`
	RenewedAt time.Time `json:"renewed_at,omitzero"`
	// Released: the owner gave it up (a clean stop) or lost its
	// connection (its last will).
	Released bool `json:"released,omitempty"`
	// Serving: the owner has taken over and is doing the work (for
	// alerting: subscribed to what it evaluates), as its caller said.
	Serving bool `json:"serving,omitempty"`
}

// Parse reads a record; an empty payload (the topic cleared) is a released
// record of no one.
func Parse(b []byte) (Record, error) {
	if len(b) == 0 {
		return Record{Released: true}, nil
	}
	var r Record
	err := json.Unmarshal(b, &r)
	return r, err
}

// Tombstone is what the owner's last will says: released by id. It carries
// no epoch (a will is fixed when the connection is made).
func Tombstone(id string) []byte {
	b, _ := json.Marshal(Record{Owner: id, Released: true})
	return b
}

// Options are the lease's timings.
type Options struct {
	// TTL: a standby takes over after hearing no renewal for this long.
	TTL time.Duration `yaml:"ttl"`
	// Renew: how often the owner republishes its record.
	Renew time.Duration `yaml:"renew"`
	// Settle: how long a claim must stand, come back from the broker and
	// unbeaten, before the claimant owns.
	Settle time.Duration `yaml:"settle"`
}

// DefaultOptions: takeover 1 s after the owner's will, at most 7 s after
// its last renewal when it vanished without one.
var DefaultOptions = Options{TTL: 6 * time.Second, Renew: 2 * time.Second, Settle: time.Second}

func (o Options) withDefaults() Options {
	if o.TTL <= 0 {
		o.TTL = DefaultOptions.TTL
	}
	if o.Renew <= 0 || o.Renew >= o.TTL {
		o.Renew = o.TTL / 3
	}
	if o.Settle <= 0 {
		o.Settle = DefaultOptions.Settle
	}
	return o
}

// Deps are the lease's collaborators.
type Deps struct {
	// ID names this process (its MQTT client id).
	ID string
	// Publish sends r, retained, on the lease topic.
	Publish func(r Record) error
	// Changed is called from Run when this process gains (held) or loses
	// the lease, with the epoch it held or holds.
	Changed func(held bool, epoch uint64)
	Log     *slog.Logger
}

type state int

const (
	standby state = iota
	claiming
	owning
)

// Lease is one process's view of the lease.
type Lease struct {
	o    Options
	d    Deps
	wake chan struct{}

	mu        sync.Mutex
	connected bool
	st        state
	cur       Record    // the last record heard (standby)
	heard     bool      // a record was heard since connecting
	curAt     time.Time // when cur was heard, or when we connected
	freeAt    time.Time // when cur leaves the lease free to claim
	maxEpoch  uint64
	epoch     uint64    // ours, claiming or owning
	claimAt   time.Time // when we claimed
	confirmed bool      // our claim came back
	echoAt    time.Time // when our record last came back
	sentAt    time.Time // when we last published our record
	reassert  bool      // publish ours again at once: an inferior record replaced it
	out       *Record   // to publish once mu is released
	told      bool      // what Changed last said
	serving   bool      // the caller said it serves: records say so
	other     Record    // the last live record of another process
	otherAt   time.Time // when it was heard
}

// New makes a lease in standby, not connected.
func New(o Options, d Deps) *Lease {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Changed == nil {
		d.Changed = func(bool, uint64) {}
	}
	return &Lease{o: o.withDefaults(), d: d, wake: make(chan struct{}, 1)}
}

// Options returns the timings in force.
func (l *Lease) Options() Options { return l.o }

func (l *Lease) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Held reports whether this process owns the lease now.
func (l *Lease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st == owning
}

// Epoch is the epoch this process holds or last held (0: never).
func (l *Lease) Epoch() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epoch
}

// Serve marks this owner's records serving from now (the caller has
// taken over); it is published at once. Nothing if it no longer owns.
func (l *Lease) Serve(epoch uint64) {
	l.mu.Lock()
	if l.st == owning && l.epoch == epoch {
		l.serving, l.reassert = true, true
	}
	l.mu.Unlock()
	l.poke()
}

// Other returns the last live record heard from another process and when
// it was heard (zero if none): the owner, while this one stands by; the
// previous owner, once this one has taken over.
func (l *Lease) Other() (Record, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.other, l.otherAt
}

// Connected tells the lease the connection to the broker went up (after
// subscribing to the lease topic) or down. Down: an owner stops owning at
// once (its will is, or will be, published by the broker).
func (l *Lease) Connected(up bool) {
	l.mu.Lock()
	l.connected = up
	switch {
	case !up: // what is retained is heard again on the next connect
		l.heard, l.cur = false, Record{}
	case !l.heard: // the retained record may have come with the subscription already
		l.curAt = time.Now()
	}
	l.mu.Unlock()
	l.poke()
}

// beats reports whether r wins over our claim.
func (l *Lease) beats(r Record) bool {
	if r.Released {
		return false
	}
	return r.Epoch > l.epoch || (r.Epoch == l.epoch && r.Owner < l.d.ID)
}

// Observe takes a record heard on the lease topic.
func (l *Lease) Observe(r Record) {
	now := time.Now()
	l.mu.Lock()
	l.maxEpoch = max(l.maxEpoch, r.Epoch)
	if r.Owner != l.d.ID && !r.Released {
		l.other, l.otherAt = r, now
	}
	switch {
	case l.st != standby && r.Owner == l.d.ID && r.Epoch == l.epoch && !r.Released:
		l.confirmed, l.echoAt = true, now
	case l.st != standby && l.beats(r):
		l.d.Log.Info("alert lease: another process holds a newer claim; standing by", "owner", r.Owner, "epoch", r.Epoch, "ours", l.epoch)
		l.st, l.cur, l.curAt, l.heard, l.freeAt = standby, r, now, true, now.Add(l.o.TTL)
	case l.st != standby:
		l.reassert = true // ours must be what the broker retains
	case r.Released && l.heard && !l.cur.Released && r.Owner != l.cur.Owner:
		// the will of an owner that was already replaced: not news
	case r.Owner == l.d.ID && l.epoch > 0 && r.Epoch <= l.epoch:
		// the echo of a claim or renewal of ours we since gave up
	default:
		prev, prevHeard := l.cur, l.heard
		l.cur, l.curAt, l.heard = r, now, true
		switch {
		case r.Released && prevHeard && !prev.Released && prev.Owner == r.Owner:
			l.freeAt = now // the owner we were hearing released it, or its will
		case r.Released || r.Owner == l.d.ID:
			// Released, or ours from before a restart, heard without the
			// owner's record before it (what the broker retained when we
			// subscribed): possibly a late will that an owner is about to
			// answer with its record. Give it Settle to.
			l.freeAt = now.Add(l.o.Settle)
		default:
			l.freeAt = now.Add(l.o.TTL)
		}
	}
	l.mu.Unlock()
	l.poke()
}

// Run drives the lease until ctx ends; then, if it holds the lease, it
// releases it (a clean stop: a standby takes over at once).
func (l *Lease) Run(ctx context.Context) error {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		next, changed, held, epoch := l.step(time.Now())
		l.mu.Lock()
		out := l.out
		l.out = nil
		l.mu.Unlock()
		if out != nil {
			if err := l.d.Publish(*out); err != nil {
				l.d.Log.Warn("alert lease: publish failed", "err", err)
			}
		}
		if changed {
			l.d.Changed(held, epoch)
		}
		t.Reset(next)
		select {
		case <-ctx.Done():
			l.release()
			return nil
		case <-l.wake:
		case <-t.C:
		}
	}
}

func (l *Lease) release() {
	l.mu.Lock()
	was, epoch := l.st == owning, l.epoch
	told := l.told
	l.st, l.told, l.serving = standby, false, false
	l.mu.Unlock()
	if told && !was {
		l.d.Changed(false, epoch)
	}
	if was {
		l.d.Changed(false, epoch)
		if err := l.d.Publish(Record{Owner: l.d.ID, Epoch: epoch, Released: true}); err != nil {
			l.d.Log.Warn("alert lease: could not release; a standby takes over when the lease expires", "err", err)
		}
	}
}

// step advances the state at now: it returns how long until it must run
// again, and whether ownership changed.
func (l *Lease) step(now time.Time) (next time.Duration, changed, held bool, epoch uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer func() {
		held, epoch = l.st == owning, l.epoch
		changed = held != l.told
		l.told = held
		if !held {
			l.serving = false
		}
	}()
	if !l.connected {
		if l.st != standby {
			l.d.Log.Warn("alert lease: broker connection lost; no longer owning alerting", "epoch", l.epoch)
		}
		l.st = standby
		return time.Hour, false, false, 0
	}
	o := l.o
	switch l.st {
	case standby:
		var free time.Time // when the lease is free to claim
		switch {
		case !l.heard:
			free = l.curAt.Add(o.Settle) // nothing retained: give the broker time to say otherwise
		default:
			free = l.freeAt
		}
		if now.Before(free) {
			return free.Sub(now), false, false, 0
		}
		l.epoch = l.maxEpoch + 1
		l.st, l.claimAt, l.confirmed = claiming, now, false
		l.d.Log.Info("alert lease: claiming", "epoch", l.epoch, "previous", l.cur.Owner)
		l.send(now)
		return o.Settle, false, false, 0
	case claiming:
		if l.confirmed && !now.Before(l.claimAt.Add(o.Settle)) {
			l.st = owning
			l.d.Log.Info("alert lease: owning alerting", "epoch", l.epoch)
			return l.owning(now)
		}
		if !now.Before(l.claimAt.Add(o.Settle)) {
			// The claim never came back (lost, or the broker is cut off):
			// a later claim takes a new epoch, so this one cannot come
			// back late and tie with an owner.
			l.st, l.curAt = standby, now
			return o.Settle, false, false, 0
		}
		if l.reassert {
			l.send(now) // replaced by an inferior record
		}
		return l.claimAt.Add(o.Settle).Sub(now), false, false, 0
	default:
		return l.owning(now)
	}
}

// owning renews, or steps down when renewals no longer come back. Called
// with mu held.
func (l *Lease) owning(now time.Time) (time.Duration, bool, bool, uint64) {
	o := l.o
	lose := l.echoAt.Add(o.TTL - o.Renew)
	if !now.Before(lose) {
		l.d.Log.Warn("alert lease: renewals are not coming back from the broker; no longer owning alerting", "epoch", l.epoch, "last_renewed", l.echoAt)
		l.st, l.cur, l.curAt, l.heard = standby, Record{}, now, false
		return o.Settle, false, false, 0
	}
	if l.reassert || !now.Before(l.sentAt.Add(o.Renew)) {
		l.send(now)
	}
	return min(l.sentAt.Add(o.Renew).Sub(now), lose.Sub(now)), false, false, 0
}

// send has Run publish our record. Called with mu held.
func (l *Lease) send(now time.Time) {
	l.sentAt, l.reassert = now, false
	l.out = &Record{Owner: l.d.ID, Epoch: l.epoch, RenewedAt: now.UTC(), Serving: l.serving && l.st == owning}
}
