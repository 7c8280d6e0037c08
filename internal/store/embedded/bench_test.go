package embedded_test

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/store/embedded"
)

// BenchmarkWrite writes batches of 5,000 points (ingest's batch size) from
// 1,000 devices, durably (one fsync'd transaction per batch). Besides the
// time, it reports the process's CPU time per batch, which a busy machine
// moves less.
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
	cpu0 := cpuTime()
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
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
