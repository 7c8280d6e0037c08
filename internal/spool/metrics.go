package spool

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metricsRegisterer = prometheus.Registerer

type metrics struct {
	appendSeconds prometheus.Histogram
	appendErrors  prometheus.Counter
	drainedPoints prometheus.Counter
	drainErrors   prometheus.Counter
	rejected      prometheus.Counter
	corrupt       prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, s *Spool) *metrics {
	m := &metrics{
		appendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ioc_spool_append_seconds",
			Help: "Time to append and fsync one group of batches to the spool.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		appendErrors:  prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_spool_append_errors_total", Help: "Appends that failed (a full disk); their messages stay unacknowledged."}),
		drainedPoints: prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_spool_drained_points_total", Help: "Points written from the spool to the database; its rate is the drain rate."}),
		drainErrors:   prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_spool_drain_errors_total", Help: "Database writes from the spool that failed and will be retried."}),
		rejected:      prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_spool_rejected_points_total", Help: "Spooled points the database refused for good (reported to the integrator)."}),
		corrupt:       prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_spool_corrupt_entries_total", Help: "Spool entries skipped because they failed their checksum."}),
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.appendSeconds, m.appendErrors, m.drainedPoints, m.drainErrors, m.rejected, m.corrupt,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ioc_spool_bytes", Help: "Bytes spooled and not yet in the database."},
			func() float64 { return float64(s.Status().Bytes) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ioc_spool_max_bytes", Help: "The spool's size bound."},
			func() float64 { return float64(s.o.MaxBytes) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ioc_spool_entries", Help: "Batches spooled and not yet in the database."},
			func() float64 { return float64(s.Status().Entries) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ioc_spool_oldest_age_seconds", Help: "Age of the oldest spooled batch (0 when empty)."},
			func() float64 { return s.Status().Oldest.Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ioc_spool_full", Help: "1 while the spool is at its bound and ingest is not acknowledging."},
			func() float64 {
				if s.Status().Full {
					return 1
				}
				return 0
			}),
	)
	return m
}
