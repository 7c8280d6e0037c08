package embedded_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/store"
	"github.com/ioc-vn/ioc/internal/store/embedded"
	"github.com/ioc-vn/ioc/internal/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := embedded.Open(context.Background(), filepath.Join(t.TempDir(), "ioc.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestWriteRowsPerStatement: samples go many to a statement (64, then 32,
// 16, ... for the rest); every batch size reads back whole, and a sample
// written twice in one batch (a redelivery within the batch) keeps the
// later value, as InfluxDB does.
func TestWriteRowsPerStatement(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, n := range []int{1, 31, 32, 33, 64, 65, 127, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			ctx := context.Background()
			s, err := embedded.Open(ctx, filepath.Join(t.TempDir(), "ioc.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var pts []point.Point
			for i := range n {
				pts = append(pts, point.Point{Measurement: "telemetry", Time: at.Add(time.Duration(i) * time.Second),
					Tags:   []point.Tag{{Key: "device", Value: fmt.Sprintf("aq-%02d", i%3)}},
					Fields: []point.Field{point.IntField("seq", int64(i)), point.FloatField("pm25", 1)}})
			}
			again := pts[n/2]
			again.Fields = []point.Field{point.IntField("seq", int64(n/2)), point.FloatField("pm25", 2)}
			pts = append(pts, again)
			if err := s.Write(ctx, pts); err != nil {
				t.Fatal(err)
			}
			seen := map[int64]float64{}
			for d := range 3 {
				got, err := s.Query(ctx, store.Query{Device: fmt.Sprintf("aq-%02d", d), From: at, To: at.Add(time.Hour)})
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range got {
					seq, _ := p.Field("seq")
					pm, _ := p.Field("pm25")
					if _, dup := seen[seq.I]; dup {
						t.Fatalf("seq %d read twice", seq.I)
					}
					seen[seq.I] = pm.F
				}
			}
			if len(seen) != n {
				t.Fatalf("read %d points, want %d", len(seen), n)
			}
			for seq, pm := range seen {
				if want := map[bool]float64{true: 2, false: 1}[seq == int64(n/2)]; pm != want {
					t.Errorf("seq %d: pm25 %v, want %v", seq, pm, want)
				}
			}
		})
	}
}
