package notify

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	planned     prometheus.Counter
	results     *prometheus.CounterVec
	sendSeconds *prometheus.HistogramVec
	uncertain   prometheus.Counter
	dropped     prometheus.Counter
	saveErrors  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, s *Service) *metrics {
	m := &metrics{
		planned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_notify_messages_planned_total", Help: "Notification messages planned into the outbox.",
		}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ioc_notify_attempts_total", Help: "Send attempts by channel and result: sent, retried, rate_limited, failed (given up).",
		}, []string{"channel", "result"}),
		sendSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ioc_notify_send_seconds", Help: "Time of one send attempt, by channel.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
		}, []string{"channel"}),
		uncertain: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_notify_uncertain_total", Help: "Messages found mid-send after a crash and sent again with the same delivery key.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_notify_transitions_dropped_total", Help: "Alert transitions dropped from the full planning queue (incidents were reconciled with the engine instead).",
		}),
		saveErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_notify_save_errors_total", Help: "Failed saves of notify.db (retried).",
		}),
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.planned, m.results, m.sendSeconds, m.uncertain, m.dropped, m.saveErrors)
	outbox := prometheus.NewDesc("ioc_notify_outbox_messages", "Messages in the outbox by state (pending, sending, sent, failed; sent and failed are kept 7 days).", []string{"state"}, nil)
	oldest := prometheus.NewDesc("ioc_notify_oldest_pending_seconds", "Age of the oldest message not yet delivered (0 when none).", nil, nil)
	reg.MustRegister(collector{descs: []*prometheus.Desc{outbox, oldest}, collect: func(ch chan<- prometheus.Metric) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		st, err := s.status(ctx, 0)
		if err != nil {
			return
		}
		for state, n := range st.Counts {
			ch <- prometheus.MustNewConstMetric(outbox, prometheus.GaugeValue, float64(n), state)
		}
		age := 0.0
		if !st.OldestPending.IsZero() {
			age = max(s.now().Sub(st.OldestPending).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(oldest, prometheus.GaugeValue, age)
	}})
	return m
}

type collector struct {
	descs   []*prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}
func (c collector) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }
