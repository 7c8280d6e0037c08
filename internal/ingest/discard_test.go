package ingest

import (
	"context"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/store"
)

// discard is a store that keeps nothing: the benchmark measures the
// pipeline's own CPU, not a database's.
type discard struct{}

func (discard) Write(context.Context, []point.Point) error { return nil }
func (discard) Query(context.Context, store.Query) ([]point.Point, error) {
	return nil, nil
}
func (discard) Aggregate(context.Context, store.AggregateQuery) ([]store.Series, error) {
	return nil, nil
}
func (discard) Ping(context.Context) error { return nil }
func (discard) Close() error               { return nil }

func (discard) Scan(context.Context, store.ScanQuery) ([]point.Point, error) { return nil, nil }
func (discard) FirstSeen(context.Context, time.Time) (map[string]time.Time, error) {
	return nil, nil
}
