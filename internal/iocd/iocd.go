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
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ioc-vn/ioc/dashboards"
	"github.com/ioc-vn/ioc/internal/access"
	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/api"
	"github.com/ioc-vn/ioc/internal/auth"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/kiosk"
	"github.com/ioc-vn/ioc/internal/lifecycle"
	"github.com/ioc-vn/ioc/internal/live"
	"github.com/ioc-vn/ioc/internal/photo"
	"github.com/ioc-vn/ioc/internal/refusals"
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
	// ReloadIngest, if set, has ingest reload its files after a
	// provisioning change (the all-in-one); otherwise the configured
	// IngestReloadURL is called.
	ReloadIngest func() error
}

// Server is the IOC server, built by New and run by Start and Wait.
type Server struct {
	cfg *Config
	o   Options
	log *slog.Logger

	st     store.Store
	audit  *api.Audit
	kiosks *kiosk.Store
	photos *photo.Store
	src    *live.Source
	ws     *stream.Server
	api    *api.API
	srv    *http.Server
	ln     net.Listener

	reloadMu sync.Mutex
	group    lifecycle.Group
	// accounts are the credentials file's accounts (nil: none configured):
	// an integrator logs in to its own page with its data account.
	accounts atomic.Pointer[access.Policy]
}

// Run builds the server and serves until ctx ends.
func Run(ctx context.Context, cfg *Config, o Options) error {
	s, err := New(ctx, cfg, o)
	if err != nil {
		return err
	}
	if err := s.Start(ctx); err != nil {
		return err
	}
	return s.Wait(ctx)
}

// New builds the server: registry, sessions, store, audit log, the live
// picture and its broker source, the stream, the API, the bound listener.
// Nothing runs until Start.
func New(ctx context.Context, cfg *Config, o Options) (_ *Server, err error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	s := &Server{cfg: cfg, o: o, log: o.Log}
	defer func() {
		if err != nil {
			s.release()
		}
	}()
	reg, err := registry.Load(cfg.Registry)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	au, err := auth.New(cfg.Auth, o.Now)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	for _, u := range cfg.Auth.Users {
		if _, ok := reg.Integrator(u.Integrator); u.Role == auth.Integrator && !ok {
			s.log.Warn("user's integrator is not in the device registry; the integrator's page shows nothing until it is", "user", u.Username, "integrator", u.Integrator)
		}
	}
	if err := auth.CheckTeamScopes(cfg.Auth.Teams, knownDistrict(reg), knownIntegrator(reg)); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if cfg.Auth.SessionSecret == "" {
		s.log.Warn("auth.session_secret is empty: sessions end when this server restarts and are not accepted by other ioc servers")
	}
	if err := s.openFiles(ctx); err != nil {
		return nil, err
	}
	s.loadAccounts(reg)
	au.SetAccounts(s.integratorLogin)
	if err := s.buildAPI(ctx, reg, au); err != nil {
		return nil, err
	}
	if s.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s.srv = &http.Server{
		Handler:           s.api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	// The source stops last: the pages and the API stop first.
	s.group.Add("mqtt", nil, func(ctx context.Context) error { _ = s.src.Run(ctx); return nil })
	s.group.Add("http", nil, s.serve)
	s.group.Add("reload", nil, s.reloads)
	s.group.Add("photos", nil, s.sweepPhotos)
	return s, nil
}

// sweepPhotos deletes the photos of fixes older than photos_keep, at the
// start and every six hours.
func (s *Server) sweepPhotos(ctx context.Context) error {
	if s.cfg.PhotosKeep <= 0 {
		return nil
	}
	now := time.Now
	if s.o.Now != nil {
		now = s.o.Now
	}
	tick := time.NewTicker(6 * time.Hour)
	defer tick.Stop()
	for {
		if n, err := s.photos.Sweep(now().Add(-s.cfg.PhotosKeep)); err != nil {
			s.log.Warn("photos: sweep failed", "err", err)
		} else if n > 0 {
			s.log.Info("photos: deleted the photos of fixes older than photos_keep", "deleted", n, "photos_keep", s.cfg.PhotosKeep)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// openFiles opens the store and the audit log.
func (s *Server) openFiles(ctx context.Context) error {
	cfg := s.cfg
	var err error
	if cfg.Influx.URL != "" {
		s.st, err = influx.New(cfg.Influx)
	} else {
		s.st, err = embedded.Open(ctx, cfg.EmbeddedStore)
	}
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(cfg.AuditLog), 0o700); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	if s.audit, err = api.OpenAudit(cfg.AuditLog, s.log, nil); err != nil {
		return err
	}
	if s.kiosks, err = kiosk.Open(cfg.KiosksFile(), s.o.Now); err != nil {
		return err
	}
	s.photos, err = photo.Open(cfg.PhotosDir())
	return err
}

// buildAPI makes the live picture, its source on the broker, the
// websocket stream and the API over them.
func (s *Server) buildAPI(ctx context.Context, reg *registry.Registry, au *auth.Auth) error {
	cfg := s.cfg
	var outline []byte
	if cfg.Outline != "" {
		var err error
		if outline, err = os.ReadFile(cfg.Outline); err != nil {
			s.log.Warn("province outline not found; the map is drawn without it", "path", cfg.Outline, "err", err)
			outline = nil
		}
	}
	boundaries, err := readGeoJSON(cfg.DistrictBoundaries)
	if err != nil {
		s.log.Warn("district boundaries not read; the map is drawn without them", "path", cfg.DistrictBoundaries, "err", err)
	}
	var levels []alert.Level
	if cfg.Rules != "" {
		rules, err := alert.LoadRules(cfg.Rules)
		if err != nil {
			s.log.Warn("alert rules not read; charts are drawn without alarm levels", "err", err)
		} else {
			levels = rules.Levels()
		}
	}
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	pic := live.New(cfg.Stream.Resume)
	s.seedResolved(ctx, pic)
	if s.src, err = live.NewSource(cfg.MQTT, pic, s.log, metrics); err != nil {
		return err
	}
	book := refusals.New(s.o.Now)
	s.src.FollowErrors(s.keepRefusals(book))
	if s.ws, err = stream.New(pic, cfg.StreamOptions(), s.log, metrics); err != nil {
		return err
	}
	revoke := shareRevocations(s.src, au, s.ws, s.log)
	shareKiosk := shareKiosks(s.src, s.kiosks, s.ws, s.log)
	pages := s.o.Pages
	if pages == nil {
		pages = dashboards.Web()
	}
	proxies, err := cfg.Proxies()
	if err != nil {
		return err
	}
	s.api, err = api.New(api.Deps{
		Auth: au, Picture: pic, Stream: s.ws, Commander: s.src, Store: s.st, Registry: reg, Outline: outline, Boundaries: boundaries, Levels: levels,
		Pages: pages, Audit: s.audit, Log: s.log, Ready: s.src.Ready,
		Metrics: promhttp.HandlerFor(metrics, promhttp.HandlerOpts{Registry: metrics}), Revoke: revoke, Reload: s.Reload,
		Provision: s.provisioning(), Provisioned: s.provisioned,
		Kiosks: s.kiosks, ShareKiosk: shareKiosk, Now: s.o.Now, Refusals: book, Photos: s.photos,
	}, api.Options{AllowedOrigins: cfg.AllowedOrigins, HistoryMaxPoints: cfg.HistoryMaxPoints, CommandTimeout: cfg.CommandTimeout,
		TrustedProxies: proxies, MetricsToken: cfg.MetricsToken})
	if err != nil {
		return err
	}
	// The registry in force is the API's: reloads swap it there.
	s.ws.Decorate = func(snap *live.Snapshot) any {
		reg := s.api.Registry()
		return struct {
			*live.Snapshot
			Province  string              `json:"province"`
			Districts []registry.District `json:"districts"`
		}{snap, reg.Province(), reg.Districts()}
	}
	return nil
}

// resolvedSince is how far back a starting server looks in the alert
// history for the walls' recently resolved list.
const resolvedSince = 4 * time.Hour

// seedResolved gives a starting server's picture the resolutions of the
// last hours from the alert history in the store, so that a restart does
// not empty the walls' recently resolved list (the events topic is not
// retained). A store that does not answer leaves the list to fill from
// the events.
func (s *Server) seedResolved(ctx context.Context, pic *live.Picture) {
	now := time.Now()
	if s.o.Now != nil {
		now = s.o.Now()
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	pts, err := s.st.Scan(ctx, store.ScanQuery{Measurement: contract.AlertMeasurement, From: now.Add(-resolvedSince), To: now.Add(time.Second), Limit: 100_000})
	if err != nil {
		s.log.Warn("recently resolved alerts not read from the history; the list fills from new events", "err", err)
		return
	}
	for i := range pts {
		h, err := contract.ParseHistory(&pts[i])
		if err != nil || h.Alert == nil || h.Transition != string(alert.Cleared) {
			continue
		}
		a := h.Alert
		pic.Resolved(live.Resolution{At: h.At, By: h.By, Note: h.Note, Alert: alert.Alert{
			ID: a.ID, Rule: a.Rule, RuleKind: alert.Kind(a.RuleKind), Device: a.Device, District: a.District,
			Severity: alert.Severity(a.Severity), State: alert.State(a.State), Parent: a.Parent, Count: a.Count, Flaps: a.Flaps,
			Suppressed: a.Suppressed, Message: map[string]string{"vi": a.MessageVI, "en": a.MessageEN}, ResolvedAt: h.At, ResolvedBy: h.By}})
	}
}

// Start starts the source, the HTTP server and the reload loop.
func (s *Server) Start(ctx context.Context) error {
	if err := s.group.Start(ctx); err != nil {
		s.release()
		return err
	}
	s.log.Info("ioc serving", "addr", s.ln.Addr().String(), "broker", s.cfg.MQTT.Broker, "users", len(s.cfg.Auth.Users))
	if s.o.Listening != nil {
		s.o.Listening(s.ln.Addr())
	}
	return nil
}

// Wait serves until ctx ends or a part fails, then stops in reverse.
func (s *Server) Wait(ctx context.Context) error {
	err := s.group.Wait(ctx)
	s.release()
	return err
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close releases a server that was built and not started (Wait releases
// one that ran).
func (s *Server) Close() { s.release() }

func (s *Server) release() {
	if s.ln != nil {
		_ = s.ln.Close()
	}
	if s.audit != nil {
		_ = s.audit.Close()
	}
	if s.st != nil {
		_ = s.st.Close()
	}
	s.ln, s.audit, s.st = nil, nil, nil
}

// serve serves the pages, API and websocket until ctx ends, then closes
// the websockets and shuts down within 5 s.
func (s *Server) serve(ctx context.Context) error {
	done := make(chan error, 1)
	go func() {
		if s.cfg.TLSCert != "" {
			done <- s.srv.ServeTLS(s.ln, s.cfg.TLSCert, s.cfg.TLSKey)
		} else {
			done <- s.srv.Serve(s.ln)
		}
	}()
	select {
	case err := <-done:
		s.ws.Close()
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.ws.Close()
	_ = s.srv.Shutdown(shutdown)
	<-done
	return nil
}

// reloads reads the registry again on each Options.Reload.
func (s *Server) reloads(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.o.Reload:
			_, _ = s.Reload() // logs what it put in force, or every error
		}
	}
}

// Reload reads the registry again and puts it in force if valid (SIGHUP,
// POST /api/v1/admin/reload).
func (s *Server) Reload() (api.Reloaded, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	r, err := registry.Load(s.cfg.Registry)
	if err != nil {
		s.log.Error("registry reload refused; keeping the current one", "err", err)
		return api.Reloaded{}, err
	}
	s.api.SetRegistry(r)
	s.loadAccounts(r)
	if err := auth.CheckTeamScopes(s.cfg.Auth.Teams, knownDistrict(r), knownIntegrator(r)); err != nil {
		s.log.Warn("registry reloaded; teams name districts or integrators it no longer has", "err", err)
	}
	s.log.Info("registry reloaded", "devices", r.Len())
	return api.Reloaded{Devices: r.Len(), Districts: len(r.Districts())}, nil
}

// keepRefusals returns the handler that keeps each integrator's _errors
// report in book: only for an integrator in the registry in force, and
// counted per device only for that integrator's registered devices.
func (s *Server) keepRefusals(book *refusals.Book) func(integrator string, payload []byte) {
	return func(integrator string, payload []byte) {
		reg := s.api.Registry()
		if _, ok := reg.Integrator(integrator); !ok {
			return
		}
		var r contract.ErrorReport
		if err := json.Unmarshal(payload, &r); err != nil {
			s.log.Warn("iocd: undecodable _errors report ignored", "integrator", integrator, "err", err)
			return
		}
		dev, ok := reg.Device(r.Device)
		book.Add(integrator, r, ok && dev.Integrator == integrator)
	}
}

// shareRevocations applies every revocation published on the broker to
// au (closing the session's live streams here), and returns the function
// that publishes this server's logouts.
func shareRevocations(src *live.Source, au *auth.Auth, ws *stream.Server, log *slog.Logger) func(auth.Revocation) {
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
		ws.CloseSession(r.ID)
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

// shareKiosks applies every wall's record published on the broker to
// kiosks (a revocation closes the wall's live streams here), and returns
// the function that publishes this server's enrolments and revocations,
// retained, so that servers started later learn them too.
func shareKiosks(src *live.Source, kiosks *kiosk.Store, ws *stream.Server, log *slog.Logger) func(kiosk.Record) {
	src.Follow(contract.KiosksPrefix, func(topic string, payload []byte) {
		var r kiosk.Record
		if len(payload) == 0 || len(payload) > 4<<10 {
			return
		}
		if err := json.Unmarshal(payload, &r); err != nil || r.ID != strings.TrimPrefix(topic, contract.KiosksPrefix) {
			log.Warn("iocd: undecodable kiosk record ignored", "topic", topic, "err", err)
			return
		}
		revoked, err := kiosks.Apply(r)
		if err != nil {
			log.Warn("iocd: kiosk record not applied", "kiosk", r.ID, "err", err)
		}
		if revoked {
			n := ws.CloseSession("kiosk:" + r.ID)
			log.Info("iocd: wall revoked on another server", "kiosk", r.ID, "name", r.Name, "streams_closed", n)
		}
	})
	return func(r kiosk.Record) {
		r.LastUsed = time.Time{}
		b, _ := json.Marshal(r)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := src.Publish(ctx, contract.KiosksPrefix+r.ID, true, b); err != nil {
			log.Warn("iocd: wall enrolment or revocation not shared with the other IOC servers (broker unreachable); copy kiosks.json to them", "kiosk", r.ID, "err", err)
		}
	}
}

// readGeoJSON reads a GeoJSON file for the map ("" is none): it must be
// JSON (it is handed to the pages as it is) and at most 8 MiB.
func readGeoJSON(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) > 8<<20 {
		return nil, fmt.Errorf("%s: %d bytes, more than 8 MiB: simplify the polygons", path, len(b))
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("%s: not JSON", path)
	}
	return b, nil
}

func knownDistrict(r *registry.Registry) func(string) bool {
	return func(id string) bool { _, ok := r.District(id); return ok }
}

func knownIntegrator(r *registry.Registry) func(string) bool {
	return func(id string) bool { _, ok := r.Integrator(id); return ok }
}
