package sim

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ioc-vn/ioc/internal/registry"
)

// SoakOptions is a long run: the province with its incidents, plus load at
// Rate, for Duration, reporting every Every.
type SoakOptions struct {
	Rate     int
	Duration time.Duration
	Every    time.Duration
	// Metrics is ingest's /metrics URL, read at every report.
	Metrics string
}

// gauges (and one labelled counter, spelled as exposed) read from ingest's
// metrics at each report.
var soakGauges = []string{"process_resident_memory_bytes", "go_memstats_heap_inuse_bytes", "go_goroutines",
	"ioc_spool_bytes", "ioc_spool_oldest_age_seconds", "ioc_ingest_inflight_messages", "ioc_spool_drained_points_total", `ioc_alert_transitions_total{kind="raised"}`}

// Soak runs the simulated province (with incidents) and a load of
// o.Rate msgs/s for o.Duration, writing one table row per interval: rates,
// PUBACK latency, and ingest's memory, goroutines and spool.
func Soak(ctx context.Context, cfg Config, reg *registry.Registry, o SoakOptions, out io.Writer, log *slog.Logger) (LoadResult, error) {
	cfg.Incidents = true
	province := New(cfg, reg, log)
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- province.Run(pctx) }()
	fmt.Fprintf(out, "| elapsed | sent/s | acked/s | failed | PUBACK p50 | p99 | max | ingest RSS MiB | heap MiB | goroutines | in flight | spool MiB | spool oldest s | drained points/s | alerts raised | incidents |\n")
	fmt.Fprintf(out, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	hc := &http.Client{Timeout: 5 * time.Second}
	first := scrape(hc, o.Metrics)
	drained, raised := first["ioc_spool_drained_points_total"], first[`ioc_alert_transitions_total{kind="raised"}`]
	res, err := Load(ctx, cfg, reg, LoadOptions{Rate: o.Rate, Duration: o.Duration, Every: o.Every,
		Interval: func(elapsed time.Duration, r LoadResult) {
			g := scrape(hc, o.Metrics)
			secs := r.Elapsed.Seconds()
			d := g["ioc_spool_drained_points_total"]
			rate := (d - drained) / secs
			drained = d
			ra := g[`ioc_alert_transitions_total{kind="raised"}`]
			newAlerts := ra - raised
			raised = ra
			fmt.Fprintf(out, "| %s | %.0f | %.0f | %d | %s | %s | %s | %.0f | %.0f | %.0f | %.0f | %.1f | %.0f | %.0f | %.0f | %d |\n",
				elapsed.Round(time.Second), float64(r.Sent)/secs, float64(r.Acked)/secs, r.Failed,
				r.P50.Round(100*time.Microsecond), r.P99.Round(100*time.Microsecond), r.Max.Round(time.Millisecond),
				g["process_resident_memory_bytes"]/(1<<20), g["go_memstats_heap_inuse_bytes"]/(1<<20), g["go_goroutines"],
				g["ioc_ingest_inflight_messages"], g["ioc_spool_bytes"]/(1<<20), g["ioc_spool_oldest_age_seconds"], rate, newAlerts, len(province.Stats().Active))
		}}, log)
	stop()
	if perr := <-done; err == nil {
		err = perr
	}
	st := province.Stats()
	fmt.Fprintf(out, "\nload: %s\nprovince: %d published, %d failed\n", res, st.Published, st.Failed)
	return res, err
}

// scrape reads the unlabelled gauges of soakGauges from a Prometheus text
// page; missing ones are 0.
func scrape(hc *http.Client, url string) map[string]float64 {
	g := map[string]float64{}
	if url == "" {
		return g
	}
	resp, err := hc.Get(url)
	if err != nil {
		return g
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		for _, want := range soakGauges {
			if name == want {
				g[name], _ = strconv.ParseFloat(strings.TrimSpace(val), 64)
			}
		}
	}
	return g
}
