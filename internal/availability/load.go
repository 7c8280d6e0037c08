package availability

import (
	"context"
	"fmt"
	"time"

	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/store"
)

// Source is the part of a store a report reads; store.Store has it.
type Source interface {
	Scan(ctx context.Context, q store.ScanQuery) ([]point.Point, error)
	FirstSeen(ctx context.Context, before time.Time) (map[string]time.Time, error)
}

// MaxHistory bounds the history points one report reads (each of the
// alert and maintenance measurements).
const MaxHistory = 2_000_000

// Load reads from src what a report over [from, to) needs: the alert and
// maintenance history from Lookback before from, and when each device was
// first seen. The caller adds the devices and names.
func Load(ctx context.Context, src Source, from, to time.Time) (Input, error) {
	var in Input
	for _, m := range []string{contract.AlertMeasurement, contract.MaintenanceMeasurement} {
		pts, err := src.Scan(ctx, store.ScanQuery{Measurement: m, From: from.Add(-Lookback), To: to, Limit: MaxHistory})
		if err != nil {
			return in, fmt.Errorf("availability: reading %s history: %w", m, err)
		}
		for i := range pts {
			h, err := contract.ParseHistory(&pts[i])
			if err != nil {
				continue // not written by the alert service
			}
			in.History = append(in.History, h)
		}
	}
	first, err := src.FirstSeen(ctx, to)
	if err != nil {
		return in, fmt.Errorf("availability: first seen: %w", err)
	}
	in.FirstSeen = first
	return in, nil
}
