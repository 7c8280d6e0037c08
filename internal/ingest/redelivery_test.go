package ingest_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/ingest"
	"github.com/ioc-vn/ioc/internal/mqttsub"
	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/stamp"
	"github.com/ioc-vn/ioc/internal/store"
	"github.com/ioc-vn/ioc/internal/store/embedded"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// freezeAfterWrite stores one batch and then never returns, like a
// process that died between the store's answer and the PUBACK; it stores
// nothing after that, as a dead process would not.
type freezeAfterWrite struct {
	store.Store
	mu     sync.Mutex
	done   bool
	frozen chan struct{}
}

func (f *freezeAfterWrite) Write(ctx context.Context, pts []point.Point) error {
	f.mu.Lock()
	first := !f.done
	f.done = true
	f.mu.Unlock()
	if first {
		if err := f.Store.Write(ctx, pts); err != nil {
			return err
		}
		close(f.frozen)
	}
	<-ctx.Done()
	return ctx.Err()
}

func testRegistry(t *testing.T) *registry.Registry {
	r, err := registry.New(registry.File{
		Districts:   []registry.District{{ID: "d1", Name: "D1"}},
		Integrators: []registry.Integrator{{ID: "acme", Name: "Acme"}},
		Devices: []registry.Device{
			{ID: "aq-01", Kind: registry.Sensor, Name: "Trạm 1", District: "d1", Integrator: "acme"},
			{ID: "cam-01", Kind: registry.Camera, Name: "Camera 1", District: "d1", Integrator: "acme"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRedeliveryAfterCrashIsNotCountedTwice: messages without a timestamp
// are stored, the process "dies" before acknowledging them, and the broker
// redelivers them to the next process, which must store nothing new.
func TestRedeliveryAfterCrashIsNotCountedTwice(t *testing.T) {
	mq := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
	dir := t.TempDir()
	st, err := embedded.Open(context.Background(), filepath.Join(dir, "ioc.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := testRegistry(t)
	cfg := mqttsub.Config{Broker: mq.URL, ClientID: "ingest-redelivery", Topics: ingest.SubscribeFilters()}

	// start runs one "process": journal from the file, pipeline, subscription.
	start := func(s store.Store) (stop func(clean bool)) {
		j, err := stamp.Open(filepath.Join(dir, "stamps"))
		if err != nil {
			t.Fatal(err)
		}
		p, err := ingest.New(ingest.Options{FlushInterval: 5 * time.Millisecond, DrainTimeout: 200 * time.Millisecond}, ingest.Deps{Store: s, Registry: reg, Journal: j})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { p.Run(ctx); close(done) }()
		c := mqttsub.New(cfg, testLog(t), func(m mqttsub.Message) { p.Handle(m) })
		if err := c.Connect(context.Background()); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 10*time.Second, func() error {
			if !c.Connected() {
				return fmt.Errorf("not subscribed")
			}
			return nil
		})
		return func(clean bool) {
			if !clean {
				// Crash: the connection drops with the PUBACKs unsent, and
				// the process is gone before the next one starts.
				c.Close(0)
				cancel()
				<-done
				j.Close()
				return
			}
			cancel()
			<-done
			c.Close(time.Second)
			j.Close()
		}
	}

	frozen := &freezeAfterWrite{Store: st, frozen: make(chan struct{})}
	stop := start(frozen)
	pub := paho.NewClient(paho.NewClientOptions().AddBroker(mq.URL).SetClientID("device"))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer pub.Disconnect(100)
	const n = 50
	for i := range n {
		// No ts: the server stamps them. Identical payloads on purpose: a
		// status that repeats is still two readings.
		tok := pub.Publish("ioc/v1/acme/aq-01/telemetry", 1, false, fmt.Sprintf(`{"pm25": %d}`, i%5))
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	select {
	case <-frozen.frozen:
	case <-time.After(10 * time.Second):
		t.Fatal("no batch was written")
	}
	count := func() int {
		pts, err := st.Query(context.Background(), store.Query{Device: "aq-01", From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return len(pts)
	}
	stored := count()
	if stored == 0 || stored > n {
		t.Fatalf("%d points stored before the crash", stored)
	}
	stop(false)

	stop = start(st) // the next process; the broker redelivers what was not acknowledged
	defer stop(true)
	testenv.Eventually(t, 15*time.Second, func() error {
		if got := count(); got != n {
			return fmt.Errorf("%d points, want %d", got, n)
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond)
	if got := count(); got != n {
		t.Fatalf("%d points after redelivery, want exactly %d (%d were stored before the crash)", got, n, stored)
	}
	t.Logf("%d of %d messages were stored but unacknowledged at the crash; their redeliveries kept their stamps", stored, n)
}
