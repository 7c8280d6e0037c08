package alertd

import (
	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	observed      prometheus.Counter
	transitions   *prometheus.CounterVec
	commands      *prometheus.CounterVec
	saveSeconds   prometheus.Histogram
	saveErrors    prometheus.Counter
	publishErrors prometheus.Counter
	historyErrors prometheus.Counter
	ghosts        prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, s *Service) *metrics {
	m := &metrics{
		observed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_alert_messages_observed_total", Help: "Stored messages the alert engine evaluated.",
		}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ioc_alert_transitions_total", Help: "Alert transitions by kind (raised, resolved, folded, ...).",
		}, []string{"kind"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ioc_alert_commands_total", Help: "Commands on the command topic by op and result (ok, refused).",
		}, []string{"op", "result"}),
		saveSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ioc_alert_save_seconds", Help: "Time to save a group of transitions to alerts.db.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		saveErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_alert_save_errors_total", Help: "Groups of transitions that could not be saved to alerts.db.",
		}),
		publishErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_alert_publish_errors_total", Help: "Server-topic publishes that failed.",
		}),
		historyErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_alert_history_errors_total", Help: "Failed writes of alert history to the store (retried).",
		}),
		ghosts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_alert_retained_cleared_total", Help: "Retained alerts and maintenance windows the broker held that the alert service did not (a broker restored from an old save, or a forged message), cleared.",
		}),
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.observed, m.transitions, m.commands, m.saveSeconds, m.saveErrors, m.publishErrors, m.historyErrors, m.ghosts)
	active := prometheus.NewDesc("ioc_alerts_active", "Active alerts by severity (suppressed ones included).", []string{"severity"}, nil)
	reg.MustRegister(collectorFunc{desc: active, collect: func(ch chan<- prometheus.Metric) {
		n := map[alert.Severity]int{}
		for _, a := range s.Active() {
			n[a.Severity]++
		}
		for _, sev := range []alert.Severity{alert.Critical, alert.Major, alert.Minor, alert.Info} {
			ch <- prometheus.MustNewConstMetric(active, prometheus.GaugeValue, float64(n[sev]), string(sev))
		}
	}})
	return m
}

type collectorFunc struct {
	desc    *prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }
