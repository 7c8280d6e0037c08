// Package ingestd assembles the ingest process. New builds every part in
// dependency order, nothing running yet: the integrator reporter, the
// window the source feeds, the source (embedded broker or MQTT
// subscription), the store with the spool in front of InfluxDB, the stamp
// journal, the alert service (or the forwarder to the group's alert
// owner), the pipeline, HTTP ingest and the status listener. Start then
// runs them as a lifecycle.Group, in the order addParts gives; they stop in
// reverse, so the pipeline drains and acknowledges while the source that
// feeds it is still connected, and the source closes last but for the
// status listener.
package ingestd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/ioc-vn/ioc/internal/access"
	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/alertd"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/httpingest"
	"github.com/ioc-vn/ioc/internal/ingest"
	"github.com/ioc-vn/ioc/internal/lifecycle"
	"github.com/ioc-vn/ioc/internal/notify"
	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/quota"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/spool"
	"github.com/ioc-vn/ioc/internal/stamp"
	"github.com/ioc-vn/ioc/internal/store"
	"github.com/ioc-vn/ioc/internal/store/embedded"
	"github.com/ioc-vn/ioc/internal/store/influx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// recoveredStampTTL is how long stamps from the previous process are kept
// to match redeliveries: the broker redelivers right after we reconnect.
const recoveredStampTTL = 10 * time.Minute

// Options are what Run needs besides the configuration.
type Options struct {
	Log *slog.Logger
	// Reload receives a value on SIGHUP: the registry, the alert rules
	// and the credentials are read again and put in force together if all
	// are valid (POST /-/reload on the HTTP listener does the same).
	Reload <-chan struct{}
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Started, if set, is called once serving, with the HTTP address.
	Started func(httpAddr string)
	// HTTPIngestStarted, if set, is called with HTTP ingest's address.
	HTTPIngestStarted func(addr string)
}

// Ingest is the ingest process, built by New and run by Start and Wait.
type Ingest struct {
	c   *Config
	o   Options
	log *slog.Logger
	reg *registry.Registry

	metrics *prometheus.Registry
	guesses *access.Limiter
	policy  *access.Policy // nil: this ingest checks no credentials
	reports *ingest.Reporter
	window  *ingest.Window
	src     source
	st      store.Store // what the pipeline writes to: the spool or the store
	spool   *spool.Spool
	journal *stamp.Journal
	alerts  *alertd.Service // nil: alerting off, or another ingest's
	owner   *alertOwner     // alerts.lease: owning alerting while holding the lease
	notify  *notify.Service // nil: no notifications (its methods do nothing)
	pipe    *ingest.Pipeline
	rl      *reloader

	status, ingestHTTP *server // ingestHTTP nil: HTTP ingest off

	group   lifecycle.Group
	closers []func() error // released in reverse once the group stops
}

// source is where messages come from and reports and alerts go: the
// embedded broker or an MQTT subscription.
type source interface {
	ingest.Publisher
	Connected() bool
	// start serves or connects, with the alert service (if any)
	// subscribed to its commands; run waits for ctx, then closes.
	start(ctx context.Context, alerts *alertd.Service) error
	run(ctx context.Context) error
}

// Run builds ingest and runs it until ctx ends.
func Run(ctx context.Context, c *Config, o Options) error {
	in, err := New(ctx, c, o)
	if err != nil {
		return err
	}
	if err := in.Start(ctx); err != nil {
		return err
	}
	return in.Wait(ctx)
}

// New builds every part of ingest; nothing runs until Start. On an error
// what was built is released.
func New(ctx context.Context, c *Config, o Options) (_ *Ingest, err error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	in := &Ingest{c: c, o: o, log: o.Log}
	defer func() {
		if err != nil {
			in.release()
		}
	}()
	steps := []func(context.Context) error{
		in.buildBase, in.buildSource, in.buildStore, in.buildJournal,
		in.buildPipeline, in.buildHTTPIngest, in.buildStatus,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	in.addParts()
	return in, nil
}

// Start starts the parts in order; on an error they are stopped and
// everything is released.
func (in *Ingest) Start(ctx context.Context) error {
	if err := in.group.Start(ctx); err != nil {
		in.release()
		return err
	}
	in.log.Info("ingest started", "http", in.status.addr(), "broker", in.brokerName(), "store", storeName(in.c), "devices", in.reg.Len())
	if in.ingestHTTP != nil && in.o.HTTPIngestStarted != nil {
		in.o.HTTPIngestStarted(in.ingestHTTP.addr())
	}
	if in.o.Started != nil {
		in.o.Started(in.status.addr())
	}
	return nil
}

// Wait runs until ctx ends or a part fails, then stops the parts in
// reverse order and releases the store, spool and journal.
func (in *Ingest) Wait(ctx context.Context) error {
	err := in.group.Wait(ctx)
	in.release()
	in.log.Info("ingest stopped")
	return err
}

// Reload reads the registry, the rules and the credentials again and puts
// them in force together, or not at all.
func (in *Ingest) Reload() (Reloaded, error) { return in.rl.reload() }

// Close releases an ingest that was built and not started (Wait releases
// one that ran).
func (in *Ingest) Close() { in.release() }

func (in *Ingest) closeLater(f func() error) { in.closers = append(in.closers, f) }

func (in *Ingest) release() {
	for i := len(in.closers) - 1; i >= 0; i-- {
		_ = in.closers[i]()
	}
	in.closers = nil
}

// buildBase reads the registry and the credentials, makes the data dir,
// the client id, the metrics and the reporter the other parts report
// through.
func (in *Ingest) buildBase(context.Context) error {
	c := in.c
	var err error
	if in.reg, err = registry.Load(c.Registry); err != nil {
		return err
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if c.MQTT.ClientID == "" {
		if c.MQTT.ClientID, err = ClientID(c.DataDir); err != nil {
			return err
		}
	}
	in.metrics = prometheus.NewRegistry()
	in.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if (c.EmbeddedBroker() && !c.Broker.AllowAnonymous) || c.HTTPIngest.Listen != "" {
		if in.policy, err = access.Load(c.Credentials, in.reg); err != nil {
			return err
		}
	}
	// One limiter for wrong passwords over MQTT and HTTP, so a guesser is
	// held on both.
	in.guesses = access.NewLimiter(access.LimiterOptions{}, in.o.Now, in.metrics)
	in.reports = ingest.NewReporter(in.log, in.metrics, in.o.Now)
	in.window = ingest.NewWindow(c.Pipeline.MaxInFlight)
	return nil
}

// buildStore opens the store and, in front of InfluxDB, the spool: ingest
// then acknowledges once points are in the spool, which drains into
// InfluxDB and reports points it refuses for good to their integrator.
func (in *Ingest) buildStore(ctx context.Context) error {
	c := in.c
	db, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	in.closeLater(db.Close)
	in.st = db
	if c.EmbeddedStore() || !c.Spool.Enabled {
		return nil
	}
	so := c.Spool.Options
	so.Dir, so.RetryMin, so.RetryMax = c.SpoolDir(), c.Pipeline.RetryMin, c.Pipeline.RetryMax
	in.spool, err = spool.Open(so, spool.Deps{Next: db, Log: in.log, Now: in.o.Now, Rejected: in.storeRejected}, in.metrics)
	if err != nil {
		return err
	}
	in.closeLater(in.spool.Close)
	in.st = in.spool
	return nil
}

// storeRejected reports points the database refused after the spool took
// them (and their messages were acknowledged).
func (in *Ingest) storeRejected(pts []point.Point, err error) {
	for i := range pts {
		in.reports.RejectLater(&pts[i], payload.Errorf(payload.ReasonStoreRejected,
			"the database refused %s at %s after it was accepted: %v (a field's type is fixed once stored: keep sending numbers as numbers)",
			pts[i].Measurement, pts[i].Time.UTC().Format(time.RFC3339Nano), errors.Unwrap(err)))
	}
}

func (in *Ingest) buildJournal(context.Context) error {
	journal, err := stamp.Open(in.c.JournalPath())
	if err != nil {
		return err
	}
	in.closeLater(journal.Close)
	in.journal = journal
	forget := time.AfterFunc(recoveredStampTTL, journal.ForgetRecovered)
	in.closeLater(func() error { forget.Stop(); return nil })
	return nil
}

// buildPipeline makes what watches stored data (the alert service, or the
// forwarder to the group's alert owner), the pipeline and the reloader.
func (in *Ingest) buildPipeline(ctx context.Context) error {
	c := in.c
	opts := c.Pipeline
	opts.Limits = c.Limits
	var observer ingest.Observer
	if c.Alerts.Rules != "" { // the integrator hears of data too old for alerts where it arrived
		opts.AlertMaxAge = c.Alerts.MaxAge
		if opts.AlertMaxAge <= 0 {
			opts.AlertMaxAge = alert.DefaultOptions.MaxAge
		}
	}
	switch {
	case c.Alerts.Rules != "" && c.Alerts.Forward:
		observer = alertd.NewForwarder(in.src, c.MQTT.ClientID, in.log)
		in.log.Info("alerting is another ingest's: forwarding what this one stores", "topic", contract.ObservationsPrefix+c.MQTT.ClientID)
		if c.Notify.Enabled() {
			in.log.Warn("notify: ignored on an ingest that forwards to the alert owner; the owner sends the notifications")
		}
	case c.Alerts.Rules != "":
		rules, err := alert.LoadRules(c.Alerts.Rules)
		if err != nil {
			return err
		}
		if in.notify, err = notify.New(ctx, c.Notify, notify.Deps{Registry: in.reg, DataDir: c.DataDir, Log: in.log, Metrics: in.metrics, Now: in.o.Now}); err != nil {
			return err
		}
		var pub alertd.Publisher = in.src
		if sub, ok := in.src.(*subscription); ok && c.Alerts.Lease.Enabled {
			in.owner = newAlertOwner(c.MQTT.ClientID, c.Alerts.Lease.Options, sub.Client, in.log, in.metrics)
			sub.owner = in.owner
			pub = in.owner.gate()
		}
		in.alerts, err = alertd.New(ctx, c.Alerts, alertd.Deps{
			Rules: rules, Registry: in.reg, Store: in.st, Publisher: pub, DataDir: c.DataDir, Log: in.log, Metrics: in.metrics, Now: in.o.Now,
			Notify: in.notify.Notify, Standby: in.owner != nil,
		})
		if err != nil {
			return err
		}
		in.closeLater(in.alerts.Close) // if it never ran; Run closes it too
		observer = in.alerts
		if in.owner != nil {
			in.owner.alerts = in.alerts
			observer = in.owner
			in.log.Info("alerting is owned by whichever ingest of the group holds the lease", "topic", contract.AlertOwnerTopic)
		}
	}
	var err error
	in.pipe, err = ingest.New(opts, ingest.Deps{
		Store: in.st, Registry: in.reg, Journal: in.journal, Reports: in.reports, Window: in.window,
		Log: in.log, Metrics: in.metrics, Now: in.o.Now, Observer: observer,
	})
	if err != nil {
		return err
	}
	in.rl = &reloader{c: c, log: in.log, pipe: in.pipe, alerts: in.alerts, guesses: in.guesses, policy: in.policy}
	if b, ok := in.src.(*embeddedSource); ok && b.checksAccess {
		in.rl.broker = b.Broker
	}
	return nil
}

// buildHTTPIngest makes the integrators' HTTP way in, when configured.
func (in *Ingest) buildHTTPIngest(context.Context) error {
	c := in.c
	h := c.HTTPIngest
	if h.Listen == "" {
		return nil
	}
	hi, err := httpingest.New(in.pipe, in.policy, httpingest.Options{MaxBytes: c.Limits.MaxBytes, MaxConcurrent: h.MaxConcurrent, Timeout: h.Timeout, Quotas: quota.New(c.Quotas),
		MaxPerAccount: h.MaxPerAccount, BodyTimeout: h.BodyTimeout, Guesses: in.guesses, Metrics: in.metrics})
	if err != nil {
		return err
	}
	in.rl.http = hi
	mux := http.NewServeMux()
	hi.Register(mux)
	// The handler reads each body under its own, shorter deadline
	// (body_timeout); ReadTimeout is the ceiling.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: h.IdleTimeout, MaxHeaderBytes: 16 << 10}
	in.ingestHTTP, err = listen("http_ingest", h.Listen, srv, h.TLSCert, h.TLSKey, in.log)
	if err != nil {
		return err
	}
	in.closeLater(in.ingestHTTP.ln.Close)
	in.log.Info("HTTP ingest listening", "addr", in.ingestHTTP.addr(), "tls", h.TLSCert != "")
	return nil
}

// buildStatus binds the listener of /metrics, /healthz, /readyz, the
// status page and POST /-/reload.
func (in *Ingest) buildStatus(context.Context) error {
	c := in.c
	srv := &http.Server{
		Handler:           in.notify.Mount(handler(in.metrics, in.src, in.st, in.pipe, in.spool, c.HTTP.Pprof, in.rl.serveReload)),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second, // GET requests: no body to wait for
		IdleTimeout:       c.HTTP.IdleTimeout,
	}
	var err error
	if in.status, err = listen("http", c.HTTP.Listen, srv, "", "", in.log); err != nil {
		return err
	}
	in.closeLater(in.status.ln.Close)
	return nil
}

// addParts puts the parts in their start order; they stop in reverse.
// The source starts before the reporter, the alert service and the
// pipeline, which publish through it, and stops after them: the pipeline
// writes and acknowledges what it holds, then the alert service saves
// and publishes its last transitions, while the source is connected.
func (in *Ingest) addParts() {
	g := &in.group
	g.Add("http", nil, in.status.serve(5*time.Second))
	g.Add("mqtt", func(ctx context.Context) error { return in.src.start(ctx, in.alerts) }, in.src.run)
	g.Add("reports", nil, func(ctx context.Context) error { return in.reports.Run(ctx, in.src) })
	if in.owner != nil { // stops after the alert service: its last transitions go out while it holds the lease
		g.Add("alert lease", nil, in.owner.run)
	}
	if in.alerts != nil {
		g.Add("alerts", nil, in.alerts.Run)
		g.Add("notify", nil, func(ctx context.Context) error {
			in.notify.Run(ctx, in.alerts.Active) // returns at once with nothing to notify
			<-ctx.Done()
			return nil
		})
	}
	g.Add("pipeline", nil, in.pipe.Run)
	if in.ingestHTTP != nil {
		g.Add("http ingest", nil, in.ingestHTTP.serve(0))
	}
	if es, ok := in.st.(*embedded.Store); ok {
		g.Add("store maintenance", nil, func(ctx context.Context) error {
			maintain(ctx, es, in.c.Embedded, in.log, in.o.Now)
			return nil
		})
	}
	g.Add("reload", nil, func(ctx context.Context) error {
		for {
			select {
			case <-ctx.Done():
				in.log.Info("ingest stopping: writing and acknowledging what is in flight")
				return nil
			case <-in.o.Reload:
				_, _ = in.rl.reload() // logs what changed, or every error
			}
		}
	})
}

// maintainEvery is how often the embedded store rolls up hours and applies
// its retention.
const maintainEvery = 10 * time.Minute

// maintain runs the embedded store's rollups and retention at start and
// every maintainEvery until ctx ends.
func maintain(ctx context.Context, s *embedded.Store, r embedded.Retention, log *slog.Logger, now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	t := time.NewTicker(maintainEvery)
	defer t.Stop()
	for {
		st, err := s.Maintain(ctx, now(), r)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("embedded store maintenance failed; retrying later", "err", err)
		case st.RawDeleted > 0 || st.RollupsDeleted > 0:
			log.Info("embedded store retention", "hours_rolled_up", st.HoursRolledUp, "raw_deleted", st.RawDeleted, "rollups_deleted", st.RollupsDeleted, "raw_before", st.RawCut)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func storeName(c *Config) string {
	if c.EmbeddedStore() {
		return "embedded:" + c.StorePath()
	}
	return "influxdb:" + c.Influx.URL
}

func openStore(ctx context.Context, c *Config) (store.Store, error) {
	if c.EmbeddedStore() {
		return embedded.Open(ctx, c.StorePath())
	}
	return influx.New(c.Influx)
}

// slowDown makes a device's connection wait while it is over its quota, so
// a backlog flush is slowed rather than dropped, and tells the integrator.
func slowDown(done <-chan struct{}, reports *ingest.Reporter, quotas *quota.Quotas, topic string, size int) {
	t, err := contract.ParseTopic(topic)
	if err != nil {
		return // refused by the pipeline with its reason
	}
	wait, why := quotas.Take(t.Integrator, t.Device, size, time.Now())
	if why == nil {
		return
	}
	reports.Notify(t.Integrator, t.Device, topic, payload.Errorf(payload.ReasonQuota, "%s; this connection is slowed until then (nothing is dropped)", why.Error()))
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-done:
	}
}

func handler(metrics *prometheus.Registry, client source, st store.Store, pipe *ingest.Pipeline, sp *spool.Spool, pprofOn bool, reload http.HandlerFunc) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /-/reload", reload)
	if pprofOn {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}))
	mux.Handle("GET /{$}", statusPage(client, st, pipe, sp))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		var problems []string
		if !client.Connected() {
			problems = append(problems, "mqtt: not connected or not subscribed")
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		// Behind the spool, a database outage is absorbed: not ready only
		// once the spool is full.
		if sp != nil {
			if s := sp.Status(); s.Full {
				problems = append(problems, fmt.Sprintf("spool: full (%d bytes, oldest %s); not acknowledging; database: %s", s.Bytes, s.Oldest.Round(time.Second), s.DatabaseErr))
			}
		} else if err := st.Ping(ctx); err != nil {
			problems = append(problems, "store: "+err.Error())
		}
		if err := pipe.Ready(); err != nil {
			problems = append(problems, "pipeline: "+err.Error())
		}
		if len(problems) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			for _, p := range problems {
				w.Write([]byte(p + "\n"))
			}
			return
		}
		w.Write([]byte("ready\n"))
	})
	return mux
}
