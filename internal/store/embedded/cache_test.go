package embedded

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/store"
)

// TestSeriesCacheBounded (security review F12): the series cache holds at
// most its size however many series are written, and a series evicted from
// it is found again in the database, not created twice.
func TestSeriesCacheBounded(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "ioc.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.series, _ = lru.New[string, int64](10)
	s.kinds, _ = lru.New[string, point.Kind](10)
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	write := func(round int) {
		pts := make([]point.Point, 50)
		for i := range pts {
			pts[i] = point.Point{Measurement: "m", Time: at.Add(time.Duration(round) * time.Second),
				Tags:   []point.Tag{{Key: "device", Value: "d"}, {Key: "id", Value: fmt.Sprint(i)}},
				Fields: []point.Field{point.FloatField(fmt.Sprintf("f%d", i), float64(round))}}
		}
		if err := s.Write(ctx, pts); err != nil {
			t.Fatal(err)
		}
	}
	write(0)
	write(1)
	if n := s.series.Len(); n != 10 {
		t.Fatalf("series cache holds %d entries, want its size 10", n)
	}
	if n := s.kinds.Len(); n != 10 {
		t.Fatalf("field cache holds %d entries, want its size 10", n)
	}
	var rows int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM series`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 50 {
		t.Fatalf("%d series rows, want 50 (evicted series found again)", rows)
	}
	pts, err := s.Query(ctx, store.Query{Device: "d", From: at, To: at.Add(time.Minute)})
	if err != nil || len(pts) != 100 {
		t.Fatalf("%d points (%v), want 100", len(pts), err)
	}
}
