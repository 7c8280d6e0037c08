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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	var msgs []*message
	for i, v := range vals {
		m := &message{j: st.j, n: i, body: fmt.Sprintf(`{"ts": %d, "pm25": %v}`, time.Now().UnixMilli()+int64(i), v)}
		msgs = append(msgs, m)
		p.Handle(m)
	}
	time.Sleep(time.Minute) // on the bubble's clock: the flush timer and any retries fire
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
