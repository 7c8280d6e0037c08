package lease

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// topic is the broker's side of the lease topic, as MQTT gives it: one
// retained record, every publish delivered in the broker's order to every
// connected subscriber, a subscriber receiving the retained record when it
// subscribes, and a client's will published when its connection ends
// uncleanly. A partitioned member neither sends nor receives.
type topic struct {
	mu       sync.Mutex
	retained *Record
	members  map[string]*member
}

type member struct {
	id      string
	l       *Lease
	in      chan Record
	cut     bool // partitioned: publishes are lost, nothing arrives
	stop    context.CancelFunc
	done    chan struct{}
	holding bool
	gained  []time.Time
	lost    []time.Time
}

func newTopic() *topic { return &topic{members: map[string]*member{}} }

func (tp *topic) publish(from string, r Record) error {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if m := tp.members[from]; m != nil && m.cut {
		return fmt.Errorf("%s: not connected", from)
	}
	tp.deliver(r)
	return nil
}

// deliver retains r and sends it to every connected member. Called with mu held.
func (tp *topic) deliver(r Record) {
	tp.retained = &r
	for _, m := range tp.members {
		if !m.cut {
			m.in <- r
		}
	}
}

// holders counts the members owning now, checked by every change.
type world struct {
	t       *testing.T
	tp      *topic
	o       Options
	mu      sync.Mutex
	holders int
	most    int
}

func (w *world) start(id string) *member {
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{id: id, in: make(chan Record, 1000), stop: cancel, done: make(chan struct{})}
	m.l = New(w.o, Deps{ID: id, Publish: func(r Record) error { return w.tp.publish(id, r) }, Changed: func(held bool, _ uint64) {
		w.mu.Lock()
		defer w.mu.Unlock()
		m.holding = held
		if held {
			w.holders++
			m.gained = append(m.gained, time.Now())
		} else {
			w.holders--
			m.lost = append(m.lost, time.Now())
		}
		w.most = max(w.most, w.holders)
	}})
	w.tp.mu.Lock()
	w.tp.members[id] = m
	if r := w.tp.retained; r != nil {
		m.in <- *r
	}
	w.tp.mu.Unlock()
	go func() {
		for r := range m.in {
			m.l.Observe(r)
		}
	}()
	go func() {
		defer close(m.done)
		m.l.Run(ctx)
	}()
	synctest.Wait() // the retained record is heard before the lease is told it is connected
	m.l.Connected(true)
	return m
}

// kill ends m as SIGKILL does: the broker publishes its will.
func (w *world) kill(m *member) {
	w.tp.mu.Lock()
	delete(w.tp.members, m.id)
	close(m.in)
	w.tp.deliver(Record{Owner: m.id, Released: true})
	w.tp.mu.Unlock()
	w.drop(m)
}

// drop stops m's process without its will: what happens when the broker
// has not yet noticed (a network split), as far as the others can tell.
func (w *world) drop(m *member) {
	m.l.Connected(false)
	m.stop()
	<-m.done
	w.mu.Lock()
	if m.holding {
		w.holders--
		m.holding = false
	}
	w.mu.Unlock()
}

func (w *world) owners() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	w.tp.mu.Lock()
	defer w.tp.mu.Unlock()
	for id, m := range w.tp.members {
		if m.holding {
			out = append(out, id)
		}
	}
	return out
}

func (w *world) owner(t *testing.T) string {
	t.Helper()
	o := w.owners()
	if len(o) != 1 {
		t.Fatalf("owners %v, want exactly one", o)
	}
	return o[0]
}

func (w *world) retained() Record {
	w.tp.mu.Lock()
	defer w.tp.mu.Unlock()
	if w.tp.retained == nil {
		return Record{}
	}
	return *w.tp.retained
}

func (w *world) stopAll() {
	w.tp.mu.Lock()
	ms := make([]*member, 0, len(w.tp.members))
	for _, m := range w.tp.members {
		ms = append(ms, m)
	}
	w.tp.mu.Unlock()
	for _, m := range ms {
		m.stop()
		<-m.done
	}
	w.tp.mu.Lock()
	defer w.tp.mu.Unlock()
	for _, m := range ms {
		close(m.in)
		delete(w.tp.members, m.id)
	}
}

func newWorld(t *testing.T) *world {
	return &world{t: t, tp: newTopic(), o: DefaultOptions}
}

func TestLease(t *testing.T) {
	o := DefaultOptions
	tests := []struct {
		name string
		run  func(t *testing.T, w *world)
	}{
		{"alone it owns once the broker had time to say otherwise", func(t *testing.T, w *world) {
			start := time.Now()
			w.start("a")
			time.Sleep(o.Settle - time.Millisecond)
			synctest.Wait()
			if got := w.owners(); len(got) != 0 {
				t.Fatalf("owning before Settle: %v", got)
			}
			time.Sleep(o.Settle + 2*time.Millisecond)
			synctest.Wait()
			if w.owner(t) != "a" {
				t.Fatal("a does not own")
			}
			if took := time.Since(start); took > 2*o.Settle+10*time.Millisecond {
				t.Errorf("took %v", took)
			}
			if r := w.retained(); r.Owner != "a" || r.Epoch != 1 {
				t.Errorf("retained %+v, want a's epoch 1", r)
			}
		}},
		{"serving is said only by the owner, and only once it says so", func(t *testing.T, w *world) {
			a := w.start("a")
			time.Sleep(2*o.Settle + time.Millisecond)
			synctest.Wait()
			if r := w.retained(); r.Owner != "a" || r.Serving {
				t.Fatalf("retained %+v, want a's record, not yet serving", r)
			}
			a.l.Serve(a.l.Epoch() + 1) // not its epoch: nothing
			synctest.Wait()
			if w.retained().Serving {
				t.Fatal("serving under an epoch it does not hold")
			}
			a.l.Serve(a.l.Epoch())
			synctest.Wait()
			if r := w.retained(); !r.Serving {
				t.Fatalf("retained %+v after Serve, want serving at once", r)
			}
			time.Sleep(2 * o.Renew)
			synctest.Wait()
			if r := w.retained(); !r.Serving {
				t.Fatalf("a renewal dropped serving: %+v", r)
			}
		}},
		{"started together, one owns", func(t *testing.T, w *world) {
			for _, id := range []string{"c", "b", "a"} {
				w.start(id)
			}
			time.Sleep(10 * o.TTL)
			synctest.Wait()
			w.owner(t) // whichever claimed first, or the smallest id of those that claimed at once
			if r := w.retained(); r.Owner != w.owner(t) {
				t.Errorf("the broker retains %+v, not the owner's record", r)
			}
		}},
		{"a standby joining later stands by", func(t *testing.T, w *world) {
			w.start("b")
			time.Sleep(3 * o.Settle)
			w.start("a")
			time.Sleep(10 * o.TTL)
			synctest.Wait()
			if got := w.owner(t); got != "b" {
				t.Errorf("owner %s, want b, which held it first", got)
			}
		}},
		{"owner killed: its will hands over within Settle", func(t *testing.T, w *world) {
			a := w.start("a")
			time.Sleep(3 * o.Settle)
			b := w.start("b")
			time.Sleep(o.TTL)
			synctest.Wait()
			w.kill(a)
			killed := time.Now()
			synctest.Wait()
			time.Sleep(o.Settle + time.Millisecond)
			synctest.Wait()
			if w.owner(t) != "b" {
				t.Fatal("b did not take over")
			}
			if took := b.gained[0].Sub(killed); took > o.Settle+time.Millisecond {
				t.Errorf("takeover took %v, want at most %v", took, o.Settle)
			}
			if r := w.retained(); r.Owner != "b" || r.Epoch != 2 {
				t.Errorf("retained %+v, want b's epoch 2", r)
			}
		}},
		{"owner cut off without a will: it steps down before the standby takes over", func(t *testing.T, w *world) {
			a := w.start("a")
			time.Sleep(3 * o.Settle)
			b := w.start("b")
			time.Sleep(o.TTL)
			synctest.Wait()
			w.tp.mu.Lock()
			a.cut = true
			w.tp.mu.Unlock()
			cut := time.Now()
			time.Sleep(o.TTL + 2*o.Settle)
			synctest.Wait()
			if len(a.lost) != 1 || len(b.gained) != 1 {
				t.Fatalf("a lost %v, b gained %v", a.lost, b.gained)
			}
			if !a.lost[0].Before(b.gained[0]) {
				t.Errorf("a stepped down at %v, b owned at %v: both owned at once", a.lost[0].Sub(cut), b.gained[0].Sub(cut))
			}
			if gap := b.gained[0].Sub(a.lost[0]); gap < o.Renew {
				t.Errorf("only %v between a stepping down and b owning", gap)
			}
			if took := b.gained[0].Sub(cut); took > o.TTL+o.Settle {
				t.Errorf("takeover %v after the cut, want at most %v", took, o.TTL+o.Settle)
			}
			// The split heals: a hears b's newer epoch and stays a standby.
			w.tp.mu.Lock()
			a.cut = false
			a.in <- *w.tp.retained
			w.tp.mu.Unlock()
			time.Sleep(5 * o.TTL)
			synctest.Wait()
			if got := w.owner(t); got != "b" {
				t.Errorf("after the split healed the owner is %s, want b", got)
			}
		}},
		{"a stale owner's late renewal: the new owner reasserts and keeps it", func(t *testing.T, w *world) {
			a := w.start("a")
			time.Sleep(3 * o.Settle)
			w.start("b")
			time.Sleep(o.TTL)
			synctest.Wait()
			w.kill(a)
			time.Sleep(o.TTL)
			synctest.Wait()
			w.tp.publish("x", Record{Owner: "a", Epoch: 1, RenewedAt: time.Now()}) // in flight when a died
			synctest.Wait()
			time.Sleep(o.Settle)
			synctest.Wait()
			if got := w.owner(t); got != "b" {
				t.Errorf("owner %s, want b", got)
			}
			if r := w.retained(); r.Owner != "b" || r.Epoch != 2 {
				t.Errorf("the broker retains %+v, want b's epoch 2 again", r)
			}
		}},
		{"the will of an owner already replaced frees nothing", func(t *testing.T, w *world) {
			a := w.start("a")
			time.Sleep(3 * o.Settle)
			w.start("b")
			w.start("c")
			time.Sleep(o.TTL)
			synctest.Wait()
			w.tp.mu.Lock()
			a.cut = true // a gone without its will yet
			w.tp.mu.Unlock()
			w.drop(a)
			time.Sleep(o.TTL + 2*o.Settle)
			synctest.Wait()
			first := w.owner(t)
			w.tp.publish("broker", Record{Owner: "a", Released: true}) // a's will, late
			time.Sleep(5 * o.TTL)
			synctest.Wait()
			if got := w.owner(t); got != first {
				t.Errorf("owner went from %s to %s on a stale will", first, got)
			}
		}},
		{"killed several times over, always one owner", func(t *testing.T, w *world) {
			ids := []string{"a", "b", "c"}
			ms := map[string]*member{}
			for _, id := range ids {
				ms[id] = w.start(id)
			}
			for range 6 {
				time.Sleep(o.TTL)
				synctest.Wait()
				cur := w.owner(t)
				w.kill(ms[cur])
				time.Sleep(o.Settle / 2)
				ms[cur] = w.start(cur)
				time.Sleep(o.Settle)
				synctest.Wait()
				if got := w.owner(t); got == cur {
					t.Fatalf("%s owns again just after it was killed", cur)
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				tc.run(t, w)
				w.stopAll()
				if w.most > 1 {
					t.Errorf("%d processes owned at once", w.most)
				}
			})
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Record
	}{
		{"", Record{Released: true}},
		{string(Tombstone("ingest-1")), Record{Owner: "ingest-1", Released: true}},
		{`{"owner":"ingest-2","epoch":7,"renewed_at":"2026-12-03T10:00:00Z"}`, Record{Owner: "ingest-2", Epoch: 7, RenewedAt: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}},
	}
	for _, tc := range tests {
		got, err := Parse([]byte(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	if _, err := Parse([]byte("{")); err == nil {
		t.Error("Parse accepted broken JSON")
	}
}
