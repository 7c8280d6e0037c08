// Package iocd runs the IOC server: it follows the alert service's server
// topics on the broker into a live picture, serves it over websockets and
// the JSON API with history from the store, and serves the wall and
// technician pages. Any number can run behind a load balancer: each is
// rebuilt from the broker's retained messages, sessions are signed cookies
// checked with a shared secret, and history is the store's.
package iocd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ioc-vn/ioc/dashboards"
	"github.com/ioc-vn/ioc/internal/api"
	"github.com/ioc-vn/ioc/internal/auth"
	"github.com/ioc-vn/ioc/internal/config"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/live"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/store"
	"github.com/ioc-vn/ioc/internal/store/embedded"
	"github.com/ioc-vn/ioc/internal/store/influx"
	"github.com/ioc-vn/ioc/internal/stream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options are what the caller provides besides the configuration.
type Options struct {
	Log *slog.Logger
	// Listening, if set, receives the bound address once serving.
	Listening func(addr net.Addr)
	// Pages overrides the embedded pages (tests of page changes).
	Pages fs.FS
	// Reload receives a value on SIGHUP: the registry is read again and
	// put in force if valid (POST /api/v1/admin/reload does the same).
	Reload <-chan struct{}
	// Now is the login limits' and sessions' clock (nil: time.Now).
	Now func() time.Time
}

// Run serves until ctx ends.
func Run(ctx context.Context, cfg *config.IOC, o Options) error {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	reg, err := registry.Load(cfg.Registry)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	var outline []byte
	if cfg.Outline != "" {
		if outline, err = os.ReadFile(cfg.Outline); err != nil {
			log.Warn("province outline not found; the map is drawn without it", "path", cfg.Outline, "err", err)
			outline = nil
		}
	}
	au, err := auth.New(cfg.Auth, o.Now)
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if cfg.Auth.SessionSecret == "" {
		log.Warn("auth.session_secret is empty: sessions end when this server restarts and are not accepted by other ioc servers")
	}
	var st store.Store
	if cfg.Influx.URL != "" {
		st, err = influx.New(cfg.Influx)
	} else {
		st, err = embedded.Open(ctx, cfg.EmbeddedStore)
	}
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer st.Close()
	if err := os.MkdirAll(filepath.Dir(cfg.AuditLog), 0o700); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	audit, err := api.OpenAudit(cfg.AuditLog, log, nil)
	if err != nil {
		return err
	}
	defer audit.Close()

	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	pic := live.New(cfg.Stream.Resume)
	src, err := live.NewSource(cfg.MQTT, pic, log, metrics)
	if err != nil {
		return err
	}
	revoke := shareRevocations(src, au, log)
	ws, err := stream.New(pic, cfg.StreamOptions(), log, metrics)
	if err != nil {
		return err
	}
	var h *api.API // the registry in force is the API's: reloads swap it there
	ws.Decorate = func(_ *http.Request, s *live.Snapshot) any {
		reg := h.Registry()
		return struct {
			*live.Snapshot
			Province  string              `json:"province"`
			Districts []registry.District `json:"districts"`
		}{s, reg.Province(), reg.Districts()}
	}
	pages := o.Pages
	if pages == nil {
		pages = dashboards.Web()
	}
	proxies, err := cfg.Proxies()
	if err != nil {
		return err
	}
	var reloadMu sync.Mutex
	reload := func() (api.Reloaded, error) {
		reloadMu.Lock()
		defer reloadMu.Unlock()
		r, err := registry.Load(cfg.Registry)
		if err != nil {
			log.Error("registry reload refused; keeping the current one", "err", err)
			return api.Reloaded{}, err
		}
		h.SetRegistry(r)
		log.Info("registry reloaded", "devices", r.Len())
		return api.Reloaded{Devices: r.Len(), Districts: len(r.Districts())}, nil
	}
	h, err = api.New(api.Deps{
		Auth: au, Picture: pic, Stream: ws, Commander: src, Store: st, Registry: reg, Outline: outline,
		Pages: pages, Audit: audit, Log: log, Ready: src.Ready,
		Metrics: promhttp.HandlerFor(metrics, promhttp.HandlerOpts{Registry: metrics}), Revoke: revoke, Reload: reload,
	}, api.Options{AllowedOrigins: cfg.AllowedOrigins, HistoryMaxPoints: cfg.HistoryMaxPoints, CommandTimeout: cfg.CommandTimeout,
		TrustedProxies: proxies, MetricsToken: cfg.MetricsToken})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srcCtx, stopSrc := context.WithCancel(context.Background())
	srcDone := make(chan struct{})
	go func() {
		defer close(srcDone)
		_ = src.Run(srcCtx)
	}()
	serveErr := make(chan error, 1)
	go func() {
		var err error
		if cfg.TLSCert != "" {
			err = srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			err = srv.Serve(ln)
		}
		serveErr <- err
	}()
	log.Info("ioc serving", "addr", ln.Addr().String(), "broker", cfg.MQTT.Broker, "users", len(cfg.Auth.Users))
	if o.Listening != nil {
		o.Listening(ln.Addr())
	}
	for running := true; running; {
		select {
		case <-ctx.Done():
			running = false
		case err = <-serveErr:
			running = false
		case <-o.Reload:
			_, _ = reload() // logs what it put in force, or every error
		}
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws.Close()
	_ = srv.Shutdown(shutdown)
	stopSrc()
	<-srcDone
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// shareRevocations applies every revocation published on the broker to
// au, and returns the function that publishes this server's logouts.
func shareRevocations(src *live.Source, au *auth.Auth, log *slog.Logger) func(auth.Revocation) {
	src.Follow(contract.RevokedPrefix, func(topic string, payload []byte) {
		if len(payload) == 0 {
			return // cleared
		}
		var r auth.Revocation
		if err := json.Unmarshal(payload, &r); err != nil || r.ID != strings.TrimPrefix(topic, contract.RevokedPrefix) {
			log.Warn("iocd: undecodable session revocation ignored", "topic", topic, "err", err)
			return
		}
		if !time.Now().Before(r.Expires) {
			go func() { // not on the delivery goroutine: Publish waits for it
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = src.Publish(ctx, topic, true, nil)
			}()
			return
		}
		au.Revoke(r)
	})
	return func(r auth.Revocation) {
		b, _ := json.Marshal(r)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := src.Publish(ctx, contract.RevokedPrefix+r.ID, true, b); err != nil {
			log.Warn("iocd: logout not shared with the other IOC servers (broker unreachable); this server refuses the session, others accept it until it expires", "err", err)
		}
	}
}
