package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ioc-vn/ioc/internal/ingest"
	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/store"
)

// journal is the order of what happened: stores' writes and the pipeline's
// acknowledgements and refusals.
type journal struct {
	mu  sync.Mutex
	log []string
}

func (j *journal) add(format string, args ...any) {
	j.mu.Lock()
	j.log = append(j.log, fmt.Sprintf(format, args...))
	j.mu.Unlock()
}

func (j *journal) String() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return strings.Join(j.log, "; ")
}

// scripted is a store whose answers the test decides: it refuses (as
// InfluxDB's 400) any batch holding a reading of pm25 = refuse, answers
// 413 to batches of more than maxPoints, and fails transiently the first
// failFirst writes. What it accepts it records as "stored <pm25 values>".
type scripted struct {
	store.Store
	j         *journal
	refuse    float64
	maxPoints int
	failFirst int
	writes    int
}

func (s *scripted) Write(_ context.Context, pts []point.Point) error {
	s.writes++
	if s.writes <= s.failFirst {
		s.j.add("write failed")
		return errors.New("connection refused")
	}
	if s.maxPoints > 0 && len(pts) > s.maxPoints {
		return store.ErrTooLarge
	}
	var vals []string
	for i := range pts {
		f, _ := pts[i].Field("pm25")
		if f.F == s.refuse && s.refuse != 0 {
			return &store.RejectedError{Err: errors.New("field type conflict")}
		}
		vals = append(vals, fmt.Sprint(f.F))
	}
	s.j.add("stored %s", strings.Join(vals, ","))
	return nil
}

// message is one MQTT message as the pipeline sees it; it records its
// acknowledgement and its refusal.
type message struct {
	j       *journal
	n       int
	body    string
	refused *payload.Error
}

func (m *message) Topic() string     { return "ioc/v1/acme/aq-01/telemetry" }
func (m *message) Payload() []byte   { return []byte(m.body) }
func (m *message) MessageID() uint16 { return uint16(m.n) }
func (m *message) Duplicate() bool   { return false }
func (m *message) Ack()              { m.j.add("ack %d", m.n) }
func (m *message) Reject(e *payload.Error) {
	m.refused = e
	m.j.add("refused %d %s", m.n, e.Reason)
}

// runScripted feeds messages with pm25 values vals, one point each, through
// a pipeline over st, on the bubble's clock, and returns them once every
// one is acknowledged.
func runScripted(t *testing.T, st *scripted, vals ...float64) []*message {
	t.Helper()
	p, err := ingest.New(ingest.Options{RetryMin: time.Second, RetryMax: time.Second}, ingest.Deps{Store: st, Registry: testRegistry(t)})
	if err != nil {
		t.Fatal(err)
	}
	// Every message is waiting before the pipeline starts, so the first
	// write takes them all (group commit) and the script sees one batch.
	var msgs []*message
	for i, v := range vals {
		m := &message{j: st.j, n: i, body: fmt.Sprintf(`{"ts": %d, "pm25": %v}`, time.Now().UnixMilli()+int64(i), v)}
		msgs = append(msgs, m)
		p.Handle(m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	time.Sleep(time.Minute) // on the bubble's clock: any retries fire
	synctest.Wait()
	cancel()
	<-done
	return msgs
}

// TestPipelineWithScriptedStore: the rules of the write path, on a store
// whose answers the test scripts and a clock it controls. A point the
// database refuses is found by splitting and reported on its own message,
// and the rest is stored; a batch answered 413 is split until it fits;
// a write that fails is retried, and nothing is acknowledged before the
// store has it; acknowledgements go in arrival order.
func TestPipelineWithScriptedStore(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   scripted
		vals []float64
		want string
	}{
		{"a refused point is isolated", scripted{refuse: 666}, []float64{1, 2, 666, 4},
			"stored 1,2; refused 2 store_rejected; stored 4; ack 0; ack 1; ack 2; ack 3"},
		{"413 splits the batch", scripted{maxPoints: 2}, []float64{1, 2, 3, 4, 5},
			"stored 1,2; stored 3; stored 4,5; ack 0; ack 1; ack 2; ack 3; ack 4"},
		{"nothing acknowledged before it is stored", scripted{failFirst: 2}, []float64{1, 2, 3},
			"write failed; write failed; stored 1,2,3; ack 0; ack 1; ack 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st := tc.st
				st.j = &journal{}
				msgs := runScripted(t, &st, tc.vals...)
				if got := st.j.String(); got != tc.want {
					t.Errorf("\n got %s\nwant %s", got, tc.want)
				}
				for _, m := range msgs {
					if (m.refused != nil) != (tc.st.refuse != 0 && strings.Contains(m.body, fmt.Sprint(tc.st.refuse))) {
						t.Errorf("message %d refused: %v", m.n, m.refused)
					}
				}
			})
		})
	}
}

// gated is a store whose every write waits until the test opens its gate:
// a database as slow as the test wants, on the bubble's clock.
type gated struct {
	store.Store
	mu     sync.Mutex
	writes []string // each write's pm25 values, comma-separated
	gates  []chan struct{}
}

func (g *gated) Write(ctx context.Context, pts []point.Point) error {
	var vals []string
	for i := range pts {
		f, _ := pts[i].Field("pm25")
		vals = append(vals, fmt.Sprint(f.F))
	}
	gate := make(chan struct{})
	g.mu.Lock()
	g.writes = append(g.writes, strings.Join(vals, ","))
	g.gates = append(g.gates, gate)
	g.mu.Unlock()
	select {
	case <-gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// open lets write i finish.
func (g *gated) open(i int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.gates[i])
}

func (g *gated) started() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.writes...)
}

// TestGroupCommit: a batch is written as soon as a writer is idle, so a
// lone message is stored and acknowledged without any timer firing (the
// bubble's clock does not move); while both writers are busy, messages
// gather into the next batch, which goes the moment a write finishes;
// batch_points still bounds a batch.
func TestGroupCommit(t *testing.T) {
	for _, tc := range []struct {
		name        string
		batchPoints int
		want        []string // the writes, in order
	}{
		{"messages during slow writes go in one next batch", 0, []string{"1", "2", "3", "4,5,6,7,8,9,10,11,12"}},
		{"batch_points bounds the batch", 4, []string{"1", "2", "3", "4,5,6,7", "8,9,10,11", "12"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := &gated{}
				j := &journal{}
				p, err := ingest.New(ingest.Options{BatchPoints: tc.batchPoints, WriteWorkers: 2}, ingest.Deps{Store: g, Registry: testRegistry(t)})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { defer close(done); _ = p.Run(ctx) }()
				synctest.Wait()
				start := time.Now()
				send := func(n int) {
					p.Handle(&message{j: j, n: n, body: fmt.Sprintf(`{"ts": %d, "pm25": %d}`, start.UnixMilli()+int64(n), n)})
				}

				send(1)
				synctest.Wait()
				if got := g.started(); len(got) != 1 || got[0] != "1" {
					t.Fatalf("a lone message: writes %q, want [1] at once", got)
				}
				g.open(0)
				synctest.Wait()
				if got := j.String(); got != "ack 1" {
					t.Fatalf("a lone message: %q, want it acknowledged once written", got)
				}
				if el := time.Since(start); el != 0 {
					t.Fatalf("a lone message waited %s of timers", el)
				}

				// Both writers busy with "2" and "3": the rest waits for
				// one of them.
				send(2)
				synctest.Wait()
				send(3)
				synctest.Wait()
				for n := 4; n <= 12; n++ {
					send(n)
				}
				synctest.Wait()
				if got := g.started(); strings.Join(got, " | ") != "1 | 2 | 3" {
					t.Fatalf("with both writers busy: writes %q, want 1, 2 and 3 alone and no more yet", got)
				}
				// Finish the writes one at a time, in order.
				for i := 1; i < len(g.started()); i++ {
					g.open(i)
					synctest.Wait()
				}
				synctest.Wait()
				if got := g.started(); strings.Join(got, " | ") != strings.Join(tc.want, " | ") {
					t.Errorf("writes\n got %q\nwant %q", got, tc.want)
				}
				want := []string{}
				for n := 1; n <= 12; n++ {
					want = append(want, fmt.Sprintf("ack %d", n))
				}
				if got := j.String(); got != strings.Join(want, "; ") {
					t.Errorf("acknowledgements %q, want in arrival order", got)
				}
				if el := time.Since(start); el != 0 {
					t.Errorf("the batches waited %s of timers", el)
				}
				cancel()
				<-done
			})
		})
	}
}

// TestFlushIntervalLingers: with flush_interval set, a batch waits that
// long for company even though a writer is idle.
func TestFlushIntervalLingers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &gated{}
		j := &journal{}
		p, err := ingest.New(ingest.Options{FlushInterval: 20 * time.Millisecond}, ingest.Deps{Store: g, Registry: testRegistry(t)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = p.Run(ctx) }()
		start := time.Now()
		for n := 1; n <= 2; n++ {
			p.Handle(&message{j: j, n: n, body: fmt.Sprintf(`{"ts": %d, "pm25": %d}`, start.UnixMilli()+int64(n), n)})
			synctest.Wait()
		}
		time.Sleep(19 * time.Millisecond)
		synctest.Wait()
		if got := g.started(); len(got) != 0 {
			t.Fatalf("after 19 ms: writes %q, want none yet", got)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got := g.started(); strings.Join(got, " | ") != "1,2" {
			t.Fatalf("after 20 ms: writes %q, want one batch 1,2", got)
		}
		g.open(0)
		cancel()
		<-done
	})
}
