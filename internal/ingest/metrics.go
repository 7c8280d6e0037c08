package ingest

import (
	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	received     *prometheus.CounterVec
	acked        prometheus.Counter
	pointsStored prometheus.Counter
	writeSeconds prometheus.Histogram
	batchPoints  prometheus.Histogram
	writeErrors  *prometheus.CounterVec
	// retainedSkipped counts retained messages an external broker sent
	// again on (re)subscribing, acknowledged and not stored.
	retainedSkipped prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, p *Pipeline) *metrics {
	m := &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ioc_ingest_messages_received_total", Help: "MQTT messages received, by channel (invalid: the topic did not parse).",
		}, []string{"channel"}),
		acked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_ingest_messages_acked_total", Help: "MQTT messages acknowledged after their points were stored or their rejection recorded.",
		}),
		pointsStored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_ingest_points_stored_total", Help: "Points written to the store.",
		}),
		writeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ioc_ingest_store_write_seconds", Help: "Duration of one store write attempt.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}),
		batchPoints: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ioc_ingest_batch_points", Help: "Points per batch handed to the store.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
		writeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ioc_ingest_store_write_errors_total", Help: "Failed store writes, by class: transient (retried), rejected (split, bad points refused), too_large (split).",
		}, []string{"class"}),
		retainedSkipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_ingest_retained_replays_skipped_total", Help: "Retained device messages the broker sent again when ingest (re)subscribed: acknowledged, not stored again.",
		}),
	}
	for _, c := range []string{"telemetry", "status", "event", "invalid"} {
		m.received.WithLabelValues(c)
	}
	for _, c := range []string{"transient", "rejected", "too_large"} {
		m.writeErrors.WithLabelValues(c)
	}
	if reg != nil {
		reg.MustRegister(m.received, m.acked, m.pointsStored, m.writeSeconds, m.batchPoints, m.writeErrors, m.retainedSkipped,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "ioc_ingest_inflight_messages", Help: "Messages received and not yet acknowledged (the window).",
			}, func() float64 { return float64(len(p.win.slots)) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "ioc_ingest_queue_messages", Help: "Messages waiting to be parsed.",
			}, func() float64 { return float64(len(p.win.in)) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "ioc_ingest_inflight_limit", Help: "The window's size (max_in_flight).",
			}, func() float64 { return float64(cap(p.win.slots)) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "ioc_ingest_last_store_success_timestamp_seconds", Help: "When a store write last succeeded.",
			}, func() float64 { return float64(p.lastStored.Load()) / 1e9 }),
		)
	}
	return m
}

// reporterMetrics are the Reporter's.
type reporterMetrics struct {
	rejected       *prometheus.CounterVec
	notices        *prometheus.CounterVec
	reportsDropped prometheus.Counter
}

func newReporterMetrics(reg prometheus.Registerer) reporterMetrics {
	m := reporterMetrics{
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ioc_ingest_messages_rejected_total", Help: "Messages refused, by reason (see docs/MQTT.md).",
		}, []string{"reason"}),
		notices: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ioc_ingest_notices_total", Help: "Notices that are not refusals, by reason: quota_exceeded counts messages slowed by a quota.",
		}, []string{"reason"}),
		reportsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_ingest_error_reports_dropped_total", Help: "Rejection reports not published to an integrator's _errors topic (queue full or broker down); the rejection is still logged and counted.",
		}),
	}
	for _, r := range payload.Reasons {
		m.rejected.WithLabelValues(string(r))
	}
	if reg != nil {
		reg.MustRegister(m.rejected, m.notices, m.reportsDropped)
	}
	return m
}
