package spool_test

import (
	"context"
	"sync"
	"testing"

	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/spool"
	"github.com/ioc-vn/ioc/internal/store"
	"github.com/ioc-vn/ioc/internal/store/storetest"
)

// flushed is the spool as its promise reads: what Write accepted is in the
// database after Flush, once and in order. A point the database refuses
// comes after Write returned, to Deps.Rejected; flushed hands it back as
// Write's error so that the contract's type-conflict case checks it too.
type flushed struct {
	*spool.Spool
	mu      sync.Mutex
	refused error
}

func (f *flushed) Write(ctx context.Context, pts []point.Point) error {
	if err := f.Spool.Write(ctx, pts); err != nil {
		return err
	}
	if err := f.Flush(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.refused
	f.refused = nil
	return err
}

// TestSpoolKeepsTheStoreContract runs the store contract over the spool in
// front of the embedded store: the writer's promises (durable, idempotent,
// the database's refusals reported with the field they name) and reads
// passed through to the database.
func TestSpoolKeepsTheStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		f := &flushed{}
		f.Spool = open(t, t.TempDir(), openEmbedded(t), spool.Options{}, func(_ []point.Point, err error) {
			f.mu.Lock()
			f.refused = err
			f.mu.Unlock()
		})
		t.Cleanup(func() { f.Spool.Close() })
		return f
	})
}
