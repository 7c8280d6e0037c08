package embedded_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/store/embedded"
)

// BenchmarkWrite writes batches of 5,000 points (ingest's batch size) from
// 1,000 devices, durably (one fsync'd transaction per batch).
func BenchmarkWrite(b *testing.B) {
	s, err := embedded.Open(context.Background(), filepath.Join(b.TempDir(), "ioc.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	base := time.Now()
	batch := make([]point.Point, 5000)
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		for i := range batch {
			p := &batch[i]
			p.Reset()
			p.Measurement = "telemetry"
			p.SetTag("device", fmt.Sprintf("dev-%04d", n%1000))
			p.SetTag("kind", "sensor")
			p.Time = base.Add(time.Duration(n) * time.Millisecond)
			p.Fields = append(p.Fields, point.FloatField("pm25", float64(n%300)), point.BoolField("ok", true))
			n++
		}
		if err := s.Write(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "points/s")
}
