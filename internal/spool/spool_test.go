package spool_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/spool"
	"github.com/ioc-vn/ioc/internal/store"
	"github.com/ioc-vn/ioc/internal/store/embedded"
	"github.com/ioc-vn/ioc/internal/store/influx"
	"github.com/ioc-vn/ioc/internal/testenv"
	"github.com/prometheus/client_golang/prometheus"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// batch is n readings of device dev, numbered from seq.
func batch(dev string, seq, n int) []point.Point {
	pts := make([]point.Point, n)
	for i := range pts {
		pts[i] = point.Point{Measurement: "telemetry", Time: t0.Add(time.Duration(seq+i) * time.Millisecond),
			Tags:   []point.Tag{{Key: "device", Value: dev}, {Key: "name", Value: "Trạm, số 1"}},
			Fields: []point.Field{point.IntField("seq", int64(seq+i)), point.FloatField("pm25", 12.5), point.StringField("note", `a "quoted" \ value`), point.BoolField("ok", true)}}
	}
	return pts
}

func count(t *testing.T, st store.Store, dev string) int {
	t.Helper()
	pts, err := st.Query(context.Background(), store.Query{Device: dev, From: t0.Add(-time.Hour), To: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for _, p := range pts {
		f, _ := p.Field("seq")
		if seen[f.I] {
			t.Fatalf("seq %d stored twice", f.I)
		}
		seen[f.I] = true
	}
	return len(seen)
}

func openEmbedded(t *testing.T) *embedded.Store {
	t.Helper()
	st, err := embedded.Open(context.Background(), filepath.Join(t.TempDir(), "ioc.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func open(t *testing.T, dir string, next store.Store, o spool.Options, rej func([]point.Point, error)) *spool.Spool {
	t.Helper()
	o.Dir = dir
	o.RetryMin, o.RetryMax = 20*time.Millisecond, 200*time.Millisecond
	s, err := spool.Open(o, spool.Deps{Next: next, Rejected: rej}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSpoolDrainsInOrderExactlyOnce: concurrent writers (group commit),
// everything reaches the database once, and the spool empties.
func TestSpoolDrainsInOrderExactlyOnce(t *testing.T) {
	st := openEmbedded(t)
	s := open(t, t.TempDir(), st, spool.Options{DrainPoints: 700}, nil)
	defer s.Close()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range 25 {
				if err := s.Write(context.Background(), batch("aq-01", (w*25+b)*100, 100)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, st, "aq-01"); n != 10000 {
		t.Fatalf("stored %d of 10000", n)
	}
	if st := s.Status(); st.Entries != 0 || st.Bytes != 0 {
		t.Fatalf("after draining: %+v", st)
	}
	// Values survive the log's encoding.
	pts, _ := st.Query(context.Background(), store.Query{Device: "aq-01", From: t0, To: t0.Add(time.Millisecond)})
	if note, _ := pts[0].Field("note"); len(pts) != 1 || note.S != `a "quoted" \ value` || pts[0].Tags[1].Value != "Trạm, số 1" {
		t.Fatalf("round trip: %+v", pts)
	}
}

// TestSpoolAbsorbsOutageAndRestart: with InfluxDB down, writes still
// return (spooled); the process stops with a backlog; the next one drains
// it once InfluxDB is back; every point is there once.
func TestSpoolAbsorbsOutageAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts influxd")
	}
	in := testenv.StartInflux(t)
	db, err := influx.New(influx.Config{URL: in.URL, Database: in.DB, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dir := t.TempDir()
	s := open(t, dir, db, spool.Options{}, nil)
	if err := s.Write(context.Background(), batch("wl-01", 0, 500)); err != nil {
		t.Fatal(err)
	}
	in.Kill()
	for b := 1; b < 40; b++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := s.Write(ctx, batch("wl-01", b*500, 500)); err != nil {
			t.Fatalf("write while InfluxDB is down: %v", err)
		}
		cancel()
	}
	testenv.Eventually(t, 5*time.Second, func() error {
		if st := s.Status(); st.DatabaseErr == "" || st.Entries == 0 {
			return fmt.Errorf("status %+v: want a backlog and the database's error", st)
		}
		return nil
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	in.Start()
	s2 := open(t, dir, db, spool.Options{}, nil)
	defer s2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if err := s2.Flush(ctx); err != nil {
		t.Fatalf("drain after restart: %v (%+v)", err, s2.Status())
	}
	// Counting 20,000 points takes InfluxDB longer than the 2 s the
	// spool's writes are given on a busy machine: a client of its own.
	q, err := influx.New(influx.Config{URL: in.URL, Database: in.DB, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if n := count(t, q, "wl-01"); n != 20000 {
		t.Fatalf("InfluxDB has %d of 20000 points", n)
	}
}

// TestSpoolFullWaits: at its bound the spool does not take more (the
// caller does not acknowledge), and takes it once the database is back.
func TestSpoolFullWaits(t *testing.T) {
	if testing.Short() {
		t.Skip("starts influxd")
	}
	in := testenv.StartInflux(t)
	db, err := influx.New(influx.Config{URL: in.URL, Database: in.DB, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	in.Kill()
	s := open(t, t.TempDir(), db, spool.Options{MaxBytes: 64 << 10}, nil)
	defer s.Close()
	var err2 error
	for b := 0; err2 == nil && b < 100; b++ {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err2 = s.Write(ctx, batch("wl-02", b*100, 100))
		cancel()
	}
	if err2 == nil || !s.Status().Full {
		t.Fatalf("100 batches into a 64 KiB spool with the database down: err %v, status %+v; want it full and waiting", err2, s.Status())
	}
	done := make(chan error, 1)
	go func() { done <- s.Write(context.Background(), batch("wl-02", 1_000_000, 100)) }()
	select {
	case err := <-done:
		t.Fatalf("a write into the full spool returned %v; want it to wait", err)
	case <-time.After(500 * time.Millisecond):
	}
	in.Start()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the waiting write did not complete after InfluxDB came back: %+v", s.Status())
	}
}

// TestSpoolRepairsTornTailAndSkipsCorruption: a torn append at the end
// (never acknowledged) is cut; an entry whose bytes rotted is skipped and
// counted; the rest drain.
func TestSpoolRepairsTornTailAndSkipsCorruption(t *testing.T) {
	dir := t.TempDir()
	st := openEmbedded(t)
	// A database that is not there: everything stays spooled.
	down, err := influx.New(influx.Config{URL: "http://127.0.0.1:" + fmt.Sprint(testenv.FreePort(t)), Database: "x", Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, dir, down, spool.Options{}, nil)
	for b := range 3 {
		if err := s.Write(context.Background(), batch("cam-01", b*10, 10)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "log", "0*"))
	seg := segs[len(segs)-1]
	b, _ := os.ReadFile(seg)
	// Rot a byte in the middle entry's line protocol, then tear the tail.
	mid := len(b) / 2
	b[mid] ^= 0x20
	b = append(b, 0xff, 0x01, 'x')
	if err := os.WriteFile(seg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, dir, st, spool.Options{}, nil)
	defer s2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s2.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, st, "cam-01"); n != 20 {
		t.Fatalf("stored %d points, want the 20 of the two intact entries", n)
	}
}

// linesCounted is InfluxDB with its WriteLines calls counted: the spool
// must send its lines as they are when the database takes them so.
type linesCounted struct {
	*influx.Store
	mu    sync.Mutex
	lines int // WriteLines calls
	ok    int // of them, answered without error
}

func (c *linesCounted) WriteLines(ctx context.Context, lines []byte) error {
	err := c.Store.WriteLines(ctx, lines)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines++
	if err == nil {
		c.ok++
	}
	return err
}

// TestSpoolReportsRefusedPoints: a point the database refuses for good
// (a field's type changed) is reported and dropped; its neighbours are
// stored. InfluxDB is sent the spooled lines as they are, and only the
// refused write is decoded and split.
func TestSpoolReportsRefusedPoints(t *testing.T) {
	for _, db := range []string{"embedded", "influx"} {
		t.Run(db, func(t *testing.T) {
			var st store.Store
			var counted *linesCounted
			if db == "embedded" {
				st = openEmbedded(t)
			} else {
				if testing.Short() {
					t.Skip("starts influxd")
				}
				in := testenv.StartInflux(t)
				c, err := influx.New(influx.Config{URL: in.URL, Database: in.DB, Timeout: 10 * time.Second})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				counted = &linesCounted{Store: c}
				st = counted
			}
			var mu sync.Mutex
			var refused []point.Point
			s := open(t, t.TempDir(), st, spool.Options{}, func(pts []point.Point, err error) {
				mu.Lock()
				refused = append(refused, pts...)
				mu.Unlock()
			})
			defer s.Close()
			pts := batch("aq-09", 0, 50)
			pts[17].Fields[1] = point.StringField("pm25", "high") // pm25 is a float
			if err := s.Write(context.Background(), batch("aq-09", 1000, 1)); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if err := s.Write(context.Background(), pts); err != nil {
				t.Fatal(err)
			}
			if err := s.Write(context.Background(), batch("aq-09", 2000, 10)); err != nil {
				t.Fatal(err)
			}
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(refused) != 1 || refused[0].Fields[0].I != 17 {
				t.Fatalf("refused %+v, want seq 17 only", refused)
			}
			if n := count(t, st, "aq-09"); n != 60 {
				t.Fatalf("stored %d, want 60 (49 + the first batch + the last 10)", n)
			}
			if counted != nil {
				counted.mu.Lock()
				defer counted.mu.Unlock()
				if counted.ok == 0 || counted.lines == counted.ok {
					t.Fatalf("InfluxDB took %d of %d line writes; want the first stored as lines and the refused one sent again as points", counted.ok, counted.lines)
				}
			}
		})
	}
}
