package spool_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/spool"
	"github.com/ioc-vn/ioc/internal/store/influx"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// heapInuse is the heap in use after a full collection.
func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestSpoolMemoryFlatDuringOutage: with the database down (InfluxDB's
// address refuses connections, and the drainer keeps trying), spooling
// 500,000 points (about 60 MiB of log) leaves the heap in use, after a
// collection, within a fixed bound: the spool keeps on disk, not in
// memory, what it holds, and its read-ahead for the next drain is bounded.
func TestSpoolMemoryFlatDuringOutage(t *testing.T) {
	const (
		writers   = 4
		perWriter = 625
		points    = 200 // per write: 4 × 625 × 200 = 500,000 points
		bound     = 32 << 20
	)
	down := "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	db, err := influx.New(influx.Config{URL: down, Database: "ioc", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dir := t.TempDir()
	s := open(t, dir, db, spool.Options{}, nil)
	before := heapInuse()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range perWriter {
				if err := s.Write(context.Background(), batch(fmt.Sprintf("aq-%02d", w), b*points, points)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st := s.Status()
	if st.DatabaseErr == "" || st.Entries != writers*perWriter {
		t.Fatalf("status %+v: want every write spooled and the database's error", st)
	}
	after := heapInuse()
	t.Logf("spooled %d entries, %.1f MiB on disk; heap in use %.1f → %.1f MiB", st.Entries, float64(st.Bytes)/(1<<20), float64(before)/(1<<20), float64(after)/(1<<20))
	if st.Bytes < 50<<20 {
		t.Fatalf("spooled only %d bytes: the test needs more than 50 MiB to mean anything", st.Bytes)
	}
	if grew := int64(after) - int64(before); grew > bound {
		t.Errorf("heap in use grew by %.1f MiB while spooling %.1f MiB; want at most %d MiB", float64(grew)/(1<<20), float64(st.Bytes)/(1<<20), bound>>20)
	}

	// Restarted in the middle of the outage, the spool finds the whole
	// backlog on disk, and its drainer reads a full write ahead
	// (DrainPoints) and keeps retrying it.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = nil
	before = heapInuse()
	s = open(t, dir, db, spool.Options{}, nil)
	defer s.Close()
	testenv.Eventually(t, 30*time.Second, func() error {
		if st := s.Status(); st.DatabaseErr == "" {
			return fmt.Errorf("status %+v: want the database's error", st)
		}
		return nil
	})
	st = s.Status()
	if st.Entries != writers*perWriter {
		t.Fatalf("after a restart: %d entries, want %d", st.Entries, writers*perWriter)
	}
	after = heapInuse()
	t.Logf("after a restart with the backlog: heap in use %.1f → %.1f MiB", float64(before)/(1<<20), float64(after)/(1<<20))
	if grew := int64(after) - int64(before); grew > bound {
		t.Errorf("after a restart with %.1f MiB spooled, heap in use grew by %.1f MiB; want at most %d MiB", float64(st.Bytes)/(1<<20), float64(grew)/(1<<20), bound>>20)
	}
}
