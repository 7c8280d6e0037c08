// Package ingestd assembles the ingest process from its parts: embedded
// broker (when no broker is configured), store, stamp journal, pipeline,
// MQTT subscription and the HTTP endpoint for /metrics, /healthz and
// /readyz. Sinks start before sources; on shutdown sources stop first.
package ingestd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sync/atomic"
	"time"

	"github.com/ioc-vn/ioc/internal/access"
	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/alertd"
	"github.com/ioc-vn/ioc/internal/broker"
	"github.com/ioc-vn/ioc/internal/config"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/httpingest"
	"github.com/ioc-vn/ioc/internal/ingest"
	"github.com/ioc-vn/ioc/internal/mqttsub"
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

// Run runs ingest until ctx ends.
func Run(ctx context.Context, c *config.Ingest, o Options) error {
	log, reload := o.Log, o.Reload
	reg, err := registry.Load(c.Registry)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if c.MQTT.ClientID == "" {
		if c.MQTT.ClientID, err = config.IngestClientID(c.DataDir); err != nil {
			return err
		}
	}
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	db, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	// With InfluxDB, ingest acknowledges once points are in the disk spool;
	// the spool drains into InfluxDB. Points InfluxDB refuses for good are
	// reported to their integrator by the pipeline (made below).
	st := db
	var sp *spool.Spool
	// The drainer may refuse leftovers of the previous run before the
	// pipeline exists: until then they are only logged and counted.
	var refused atomic.Pointer[func(pts []point.Point, err error)]
	if !c.EmbeddedStore() && c.Spool.Enabled {
		so := c.Spool.Options
		so.Dir, so.RetryMin, so.RetryMax = c.SpoolDir(), c.Pipeline.RetryMin, c.Pipeline.RetryMax
		sp, err = spool.Open(so, spool.Deps{Next: db, Log: log, Now: o.Now, Rejected: func(pts []point.Point, err error) {
			if f := refused.Load(); f != nil {
				(*f)(pts, err)
			} else {
				log.Warn("spool: the database refused points from before this start", "points", len(pts), "err", err)
			}
		}}, metrics)
		if err != nil {
			return err
		}
		defer sp.Close()
		st = sp
	}

	journal, err := stamp.Open(c.JournalPath())
	if err != nil {
		return err
	}
	defer journal.Close()
	forget := time.AfterFunc(recoveredStampTTL, journal.ForgetRecovered)
	defer forget.Stop()

	opts := c.Pipeline
	opts.Limits = c.Limits
	if c.Alerts.Rules != "" {
		opts.AlertMaxAge = c.Alerts.MaxAge
		if opts.AlertMaxAge <= 0 {
			opts.AlertMaxAge = alert.DefaultOptions.MaxAge
		}
	}
	// The pipeline publishes rejection reports through whichever source
	// feeds it; the source is made after the pipeline it feeds.
	var reports ingest.Publisher
	pub := publisherFunc(func(topic string, qos byte, retain bool, body []byte) error {
		if reports == nil {
			return errors.New("not connected to the broker yet")
		}
		return reports.Publish(topic, qos, retain, body)
	})
	// The alert service sees what the pipeline stores, and publishes
	// through the same source.
	var alerts *alertd.Service
	var notifier *notify.Service // nil: no notifications configured (its methods do nothing)
	var observer ingest.Observer
	if c.Alerts.Rules != "" && c.Alerts.Forward {
		observer = alertd.NewForwarder(pub, c.MQTT.ClientID, log)
		log.Info("alerting is another ingest's: forwarding what this one stores", "topic", contract.ObservationsPrefix+c.MQTT.ClientID)
	} else if c.Alerts.Rules != "" {
		rules, err := alert.LoadRules(c.Alerts.Rules)
		if err != nil {
			return err
		}
		if notifier, err = notify.New(ctx, c.Notify, notify.Deps{Registry: reg, DataDir: c.DataDir, Log: log, Metrics: metrics, Now: o.Now}); err != nil {
			return err
		}
		alerts, err = alertd.New(ctx, c.Alerts, alertd.Deps{
			Rules: rules, Registry: reg, Store: st, Publisher: pub, DataDir: c.DataDir, Log: log, Metrics: metrics, Now: o.Now, Notify: notifier.Notify,
		})
		if err != nil {
			return err
		}
		observer = alerts
	}
	pipe, err := ingest.New(opts, ingest.Deps{
		Store: st, Registry: reg, Journal: journal, Reports: pub, Log: log, Metrics: metrics, Now: o.Now, Observer: observer,
	})
	if err != nil {
		if alerts != nil {
			alerts.Close()
		}
		return err
	}
	reject := func(pts []point.Point, err error) {
		for i := range pts {
			pipe.RejectLater(&pts[i], payload.Errorf(payload.ReasonStoreRejected,
				"the database refused %s at %s after it was accepted: %v (a field's type is fixed once stored: keep sending numbers as numbers)",
				pts[i].Measurement, pts[i].Time.UTC().Format(time.RFC3339Nano), errors.Unwrap(err)))
		}
	}
	refused.Store(&reject)
	// The alert service starts once its publisher (the source) exists.
	alertsDone := make(chan struct{})
	alertCtx, stopAlertCtx := context.WithCancel(context.WithoutCancel(ctx))
	alertsStarted := false
	stopAlerts := func() {
		stopAlertCtx()
		if alertsStarted {
			<-alertsDone
		} else if alerts != nil {
			alerts.Close()
		}
	}
	pipeCtx, stopPipe := context.WithCancel(context.WithoutCancel(ctx))
	pipeDone := make(chan error, 1)
	go func() { pipeDone <- pipe.Run(pipeCtx) }()
	stopPipeline := func() {
		stopPipe()
		<-pipeDone
		stopAlerts() // after the pipeline's last observation, before the source closes
	}

	var (
		src       source
		closeSrc  func()
		brokerURL string
	)
	var policy *access.Policy
	if (c.EmbeddedBroker() && !c.Broker.AllowAnonymous) || c.HTTPIngest.Listen != "" {
		if policy, err = access.Load(c.Credentials, reg); err != nil {
			stopPipeline()
			return err
		}
	}
	// One limiter for wrong passwords over MQTT and HTTP, so a guesser is
	// held on both.
	guesses := access.NewLimiter(access.LimiterOptions{}, o.Now, metrics)
	rl := &reloader{c: c, log: log, pipe: pipe, alerts: alerts, guesses: guesses, policy: policy}
	if c.EmbeddedBroker() {
		brokerPolicy := policy
		if c.Broker.AllowAnonymous {
			brokerPolicy = nil
			log.Warn("embedded broker allows anonymous clients to publish and subscribe anywhere: for a demo only")
		}
		quotas := quota.New(c.Quotas)
		intake := func(m *broker.Message) { pipe.Handle(m) }
		if quotas.Enabled() {
			intake = func(m *broker.Message) {
				slowDown(pipeCtx, pipe, quotas, m.Topic(), len(m.Payload()))
				pipe.Handle(m)
			}
		}
		bc := c.Broker
		bc.DataDir = c.DataDir
		if bc.ClientQueue == 0 {
			// Room for an IOC server's resync (a retained state per
			// device, plus alerts and maintenance windows) with headroom
			// for devices added by a reload.
			bc.ClientQueue = broker.DefaultClientQueue + 2*reg.Len()
		}
		b, err := broker.New(bc, broker.Deps{
			Log: log, Metrics: metrics, IntakePrefix: contract.DevicePrefix,
			Intake: intake,
			Access: brokerPolicy, Guesses: guesses,
			// The alert service retains a state per device, its alerts
			// and maintenance windows; nothing else is retained.
			Retained: broker.RetainLimitsFor(reg.Len(), len(reg.Districts())),
		})
		if err != nil {
			stopPipeline()
			return err
		}
		if err := b.Start(); err != nil {
			stopPipeline()
			return fmt.Errorf("embedded broker: %w", err)
		}
		reports, src, closeSrc = b, alwaysReady{}, func() { b.Close() }
		if brokerPolicy != nil {
			rl.broker = b
		}
		if alerts != nil {
			// The broker restored its retained messages from disk: clear any
			// the alert service does not hold before it publishes its own.
			var retained []string
			for _, f := range contract.RetainedFilters() {
				retained = append(retained, b.Retained(f)...)
			}
			alerts.Sweep(retained)
			if err := b.Subscribe(contract.CommandsTopic, func(_ string, body []byte) { alerts.Command(body) }); err != nil {
				stopPipeline()
				closeSrc()
				return fmt.Errorf("embedded broker: %w", err)
			}
			if err := b.Subscribe(contract.ObservationsFilter, func(_ string, body []byte) { alerts.Observed(body) }); err != nil {
				stopPipeline()
				closeSrc()
				return fmt.Errorf("embedded broker: %w", err)
			}
		}
		brokerURL = "embedded " + c.Broker.Listen
		log.Info("embedded MQTT broker listening; ingest takes device messages inside it", "addr", c.Broker.Listen)
	} else {
		client := mqttsub.New(c.MQTT, log, func(m mqttsub.Message) { pipe.Handle(m) })
		reports, src, closeSrc = client, client, func() { client.Close(2 * time.Second) }
		if alerts != nil {
			client.Subscribe(contract.CommandsTopic, func(_ string, body []byte) { alerts.Command(body) })
			client.Subscribe(contract.ObservationsFilter, func(_ string, body []byte) { alerts.Observed(body) })
			client.OnConnect(func() {
				alerts.Resync()
				// The broker may have restored retained messages from a save
				// older than the last resolve: list them and clear the ghosts.
				listCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				retained, err := client.Retained(listCtx, contract.RetainedFilters(), contract.IngestSyncPrefix+c.MQTT.ClientID)
				if err != nil {
					log.Warn("alerts: could not list the broker's retained alerts; ghosts are cleared on the next connect", "err", err)
					return
				}
				alerts.Sweep(retained)
			})
		}
		brokerURL = c.MQTT.Broker
		connectCtx, cancelConnect := context.WithTimeout(ctx, 30*time.Second)
		if err := client.Connect(connectCtx); err != nil {
			log.Warn("mqtt not connected yet; retrying in the background", "broker", c.MQTT.Broker, "err", err)
		}
		cancelConnect()
	}

	if alerts != nil {
		alertsStarted = true
		go func() {
			defer close(alertsDone)
			if err := alerts.Run(alertCtx); err != nil {
				log.Error("alerts stopped", "err", err)
			}
		}()
		notifyDone := make(chan struct{})
		go func() { defer close(notifyDone); notifier.Run(ctx, alerts.Active) }()
		defer func() { <-notifyDone }()
	}

	srv := &http.Server{
		Handler:           notifier.Mount(handler(metrics, src, st, pipe, sp, c.HTTP.Pprof, rl.serveReload)),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second, // GET requests: no body to wait for
		IdleTimeout:       c.HTTP.IdleTimeout,
	}
	ln, err := net.Listen("tcp", c.HTTP.Listen)
	if err != nil {
		stopPipeline()
		closeSrc()
		return fmt.Errorf("http listen %s: %w", c.HTTP.Listen, err)
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	}()
	var ingestSrv *http.Server
	if h := c.HTTPIngest; h.Listen != "" {
		hi, err := httpingest.New(pipe, policy, httpingest.Options{MaxBytes: c.Limits.MaxBytes, MaxConcurrent: h.MaxConcurrent, Timeout: h.Timeout, Quotas: quota.New(c.Quotas),
			MaxPerAccount: h.MaxPerAccount, BodyTimeout: h.BodyTimeout, Guesses: guesses, Metrics: metrics})
		if err != nil {
			stopPipeline()
			closeSrc()
			return err
		}
		rl.attachHTTP(hi)
		mux := http.NewServeMux()
		hi.Register(mux)
		// The handler reads each body under its own, shorter deadline
		// (body_timeout); ReadTimeout is the ceiling.
		ingestSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: h.IdleTimeout, MaxHeaderBytes: 16 << 10}
		hl, err := net.Listen("tcp", h.Listen)
		if err != nil {
			stopPipeline()
			closeSrc()
			return fmt.Errorf("http_ingest listen %s: %w", h.Listen, err)
		}
		go func() {
			var err error
			if h.TLSCert != "" {
				err = ingestSrv.ServeTLS(hl, h.TLSCert, h.TLSKey)
			} else {
				err = ingestSrv.Serve(hl)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("http ingest server", "err", err)
			}
		}()
		log.Info("HTTP ingest listening", "addr", hl.Addr().String(), "tls", h.TLSCert != "")
		if o.HTTPIngestStarted != nil {
			o.HTTPIngestStarted(hl.Addr().String())
		}
	}
	if es, ok := st.(*embedded.Store); ok {
		maintCtx, stopMaint := context.WithCancel(ctx)
		defer stopMaint()
		go maintain(maintCtx, es, c.Embedded, log, o.Now)
	}
	log.Info("ingest started", "http", ln.Addr().String(), "broker", brokerURL, "store", storeName(c), "devices", reg.Len())
	if o.Started != nil {
		o.Started(ln.Addr().String())
	}

	for running := true; running; {
		select {
		case <-ctx.Done():
			running = false
		case <-reload:
			_, _ = rl.reload() // logs what changed, or every error
		}
	}

	log.Info("ingest stopping: writing and acknowledging what is in flight")
	if ingestSrv != nil {
		ingestSrv.Close()
	}
	stopPipeline()
	closeSrc()
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	log.Info("ingest stopped")
	return nil
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

func storeName(c *config.Ingest) string {
	if c.EmbeddedStore() {
		return "embedded:" + c.StorePath()
	}
	return "influxdb:" + c.Influx.URL
}

func openStore(ctx context.Context, c *config.Ingest) (store.Store, error) {
	if c.EmbeddedStore() {
		return embedded.Open(ctx, c.StorePath())
	}
	return influx.New(c.Influx)
}

// slowDown makes a device's connection wait while it is over its quota, so
// a backlog flush is slowed rather than dropped, and tells the integrator.
func slowDown(ctx context.Context, pipe *ingest.Pipeline, quotas *quota.Quotas, topic string, size int) {
	t, err := contract.ParseTopic(topic)
	if err != nil {
		return // refused by the pipeline with its reason
	}
	wait, why := quotas.Take(t.Integrator, t.Device, size, time.Now())
	if why == nil {
		return
	}
	pipe.Notify(t.Integrator, t.Device, topic, payload.Errorf(payload.ReasonQuota, "%s; this connection is slowed until then (nothing is dropped)", why.Error()))
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

type publisherFunc func(topic string, qos byte, retain bool, body []byte) error

func (f publisherFunc) Publish(topic string, qos byte, retain bool, body []byte) error {
	return f(topic, qos, retain, body)
}

// source is where messages come from: an MQTT subscription or the
// embedded broker.
type source interface {
	Connected() bool
}

type alwaysReady struct{}

func (alwaysReady) Connected() bool { return true }

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
