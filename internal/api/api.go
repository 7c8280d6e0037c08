// Package api is the IOC server's HTTP surface: the JSON API (described in
// openapi.yaml, served at /api/openapi.yaml), login sessions, the live
// websocket, and the wall and technician pages. Every API call and the
// websocket need a session; state-changing calls also need its CSRF token
// and an allowed Origin; acknowledgements, resolutions, maintenance and
// logins go to the audit log.
package api

import (
	"context"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/auth"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/kiosk"
	"github.com/ioc-vn/ioc/internal/live"
	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/photo"
	"github.com/ioc-vn/ioc/internal/provision"
	"github.com/ioc-vn/ioc/internal/refusals"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/store"
	"github.com/ioc-vn/ioc/internal/stream"
)

// OpenAPI is the API's description.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Commander sends a command to the alert service and waits for its result
// (live.Source does).
type Commander interface {
	Command(ctx context.Context, c contract.Command) (contract.CommandResult, error)
}

// Deps are the API's collaborators.
type Deps struct {
	Auth      *auth.Auth
	Picture   *live.Picture
	Stream    *stream.Server
	Commander Commander
	Store     store.Store
	Registry  *registry.Registry
	// Outline is the province outline (GeoJSON) drawn under the map;
	// Boundaries the district polygons (GeoJSON) drawn on it.
	Outline    []byte
	Boundaries []byte
	// Levels are the alert rules' alarm levels, drawn on charts.
	Levels []alert.Level
	// Pages holds the wall, technician and login pages and their assets.
	Pages fs.FS
	Audit *Audit
	Log   *slog.Logger
	// Ready reports whether the live picture reflects the broker.
	Ready func() bool
	// Metrics serves /metrics to admins and to MetricsToken's bearer.
	Metrics http.Handler
	// Revoke, if set, shares a logout's revocation with the other IOC
	// servers (this one has applied it already).
	Revoke func(auth.Revocation)
	// Kiosks, if set, are the enrolled walls: a wall's kiosk cookie is a
	// session that only views. ShareKiosk, if set, hands an enrolment or
	// revocation made here to the other IOC servers.
	Kiosks     *kiosk.Store
	ShareKiosk func(kiosk.Record)
	// Reload, if set, reads the server's files again and puts them in
	// force (POST /api/v1/admin/reload; SIGHUP does the same).
	Reload func() (Reloaded, error)
	// Provision, if set, edits the registry and credentials files for
	// the admin routes (provision.go); after each change the API puts the
	// new registry in force and calls Provisioned, if set, to have the
	// other processes (ingest) reload.
	Provision   *provision.Files
	Provisioned func() error
	// SecretIterations is the PBKDF2 work of generated secrets' hashes
	// (0: access.DefaultIterations).
	SecretIterations int
	// Refusals are the integrators' _errors reports the server has seen
	// (nil: none kept; the integrator's page shows no refusals).
	Refusals *refusals.Book
	// Photos keeps the photos technicians attach to the fixed step (nil:
	// a fixed step with a photo is refused).
	Photos *photo.Store
	Now    func() time.Time
}

// Options tune the API.
type Options struct {
	// AllowedOrigins may make state-changing calls besides the server's own
	// origin (the same list the websocket checks).
	AllowedOrigins []string
	// HistoryMaxPoints bounds the samples per field a history call returns.
	HistoryMaxPoints int
	// CommandTimeout bounds the wait for the alert service's answer.
	CommandTimeout time.Duration
	// TrustedProxies are the addresses whose X-Forwarded-For is believed:
	// the client is the rightmost address in it that is not a trusted
	// proxy. From any other peer the header is ignored.
	TrustedProxies []netip.Prefix
	// MetricsToken, if set, lets a scraper read /metrics with
	// "Authorization: Bearer <token>"; admins' sessions may read it too.
	MetricsToken string
	// PayloadLimits bound a payload an integrator checks (zero:
	// payload.DefaultLimits, ingest's defaults).
	PayloadLimits payload.Limits
	// MaxChecks bounds the payload checks running at once (zero: 4).
	MaxChecks int
}

// API is the HTTP handler.
type API struct {
	d   Deps
	o   Options
	mux *http.ServeMux
	now func() time.Time
	reg atomic.Pointer[registry.Registry] // swapped by SetRegistry
	// checks holds a slot per payload check running (Options.MaxChecks).
	checks chan struct{}
}

// Routes lists every API route as "METHOD /path", for the OpenAPI test.
var Routes = append([]string{
	"POST /api/v1/login",
	"POST /api/v1/logout",
	"GET /api/v1/session",
	"GET /api/v1/province",
	"GET /api/v1/devices",
	"GET /api/v1/devices/{id}",
	"GET /api/v1/devices/{id}/history",
	"GET /api/v1/readings",
	"GET /api/v1/alerts",
	"GET /api/v1/alerts/history",
	"POST /api/v1/alerts/{rule}/{device}/ack",
	"POST /api/v1/alerts/{rule}/{device}/resolve",
	"GET /api/v1/alerts/{rule}/{device}/timeline",
	"GET /api/v1/alerts/{rule}/{device}/photos/{photo}",
	"POST /api/v1/alerts/{rule}/{device}/assign",
	"POST /api/v1/alerts/{rule}/{device}/accept",
	"POST /api/v1/alerts/{rule}/{device}/en-route",
	"POST /api/v1/alerts/{rule}/{device}/on-site",
	"POST /api/v1/alerts/{rule}/{device}/fixed",
	"POST /api/v1/maintenance",
	"DELETE /api/v1/maintenance/{target}",
	"POST /api/v1/devices/{id}/commission",
	"GET /api/v1/audit",
	"GET /api/v1/availability",
	"POST /api/v1/admin/reload",
	"GET /api/v1/admin/kiosks",
	"POST /api/v1/admin/kiosks",
	"DELETE /api/v1/admin/kiosks/{id}",
	"POST /api/v1/kiosk/session",
	"GET /api/v1/stream",
	"GET /api/v1/integrator/devices",
	"GET /api/v1/integrator/errors",
	"POST /api/v1/integrator/validate/{device}/{channel}",
}, provisionRoutes...)

// New builds the handler.
func New(d Deps, o Options) (*API, error) {
	if d.Auth == nil || d.Picture == nil || d.Stream == nil || d.Commander == nil || d.Store == nil || d.Registry == nil || d.Pages == nil || d.Audit == nil {
		return nil, errors.New("api: missing dependency")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if o.HistoryMaxPoints <= 0 {
		o.HistoryMaxPoints = 1000
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = 5 * time.Second
	}
	if o.PayloadLimits == (payload.Limits{}) {
		o.PayloadLimits = payload.DefaultLimits
	}
	if o.MaxChecks <= 0 {
		o.MaxChecks = 4
	}
	a := &API{d: d, o: o, mux: http.NewServeMux(), now: d.Now, checks: make(chan struct{}, o.MaxChecks)}
	a.reg.Store(d.Registry)
	m := a.mux
	handlers := map[string]http.HandlerFunc{
		"POST /api/v1/login":                                a.login,
		"POST /api/v1/logout":                               a.logout,
		"GET /api/v1/session":                               a.need(anyRole, a.session),
		"GET /api/v1/province":                              a.need(auth.Viewer, a.province),
		"GET /api/v1/devices":                               a.need(auth.Viewer, a.devices),
		"GET /api/v1/devices/{id}":                          a.need(auth.Viewer, a.device),
		"GET /api/v1/devices/{id}/history":                  a.need(auth.Viewer, a.history),
		"GET /api/v1/readings":                              a.need(auth.Viewer, a.readings),
		"GET /api/v1/alerts":                                a.need(auth.Viewer, a.alerts),
		"GET /api/v1/alerts/history":                        a.need(auth.Viewer, a.alertHistory),
		"POST /api/v1/alerts/{rule}/{device}/ack":           a.need(auth.Technician, a.command(contract.OpAck)),
		"POST /api/v1/alerts/{rule}/{device}/resolve":       a.need(auth.Technician, a.command(contract.OpResolve)),
		"GET /api/v1/alerts/{rule}/{device}/timeline":       a.need(auth.Viewer, a.timeline),
		"GET /api/v1/alerts/{rule}/{device}/photos/{photo}": a.need(auth.Viewer, a.photo),
		"POST /api/v1/alerts/{rule}/{device}/assign":        a.need(auth.Operator, a.assign),
		"POST /api/v1/alerts/{rule}/{device}/accept":        a.need(auth.Technician, a.step(contract.OpAccept)),
		"POST /api/v1/alerts/{rule}/{device}/en-route":      a.need(auth.Technician, a.step(contract.OpEnRoute)),
		"POST /api/v1/alerts/{rule}/{device}/on-site":       a.need(auth.Technician, a.step(contract.OpOnSite)),
		"POST /api/v1/alerts/{rule}/{device}/fixed":         a.need(auth.Technician, a.step(contract.OpFixed)),
		"POST /api/v1/maintenance":                          a.need(auth.Operator, a.maintenanceStart),
		"DELETE /api/v1/maintenance/{target}":               a.need(auth.Operator, a.maintenanceEnd),
		"POST /api/v1/devices/{id}/commission":              a.need(auth.Operator, a.commission),
		"GET /api/v1/audit":                                 a.need(auth.Admin, a.audit),
		"GET /api/v1/availability":                          a.need(auth.Viewer, a.availabilityReport),
		"POST /api/v1/admin/reload":                         a.need(auth.Admin, a.reload),
		"GET /api/v1/admin/kiosks":                          a.need(auth.Admin, a.kioskList),
		"POST /api/v1/admin/kiosks":                         a.need(auth.Admin, a.kioskEnrol),
		"DELETE /api/v1/admin/kiosks/{id}":                  a.need(auth.Admin, a.kioskRevoke),
		"POST /api/v1/kiosk/session":                        a.kioskLogin,
		"GET /api/v1/stream": a.need(auth.Viewer, func(w http.ResponseWriter, r *http.Request, s *auth.Session) {
			d.Stream.Serve(w, r, s.ID)
		}),
		"GET /api/v1/integrator/devices":                      a.need(auth.Integrator, a.integratorDevices),
		"GET /api/v1/integrator/errors":                       a.need(auth.Integrator, a.integratorErrors),
		"POST /api/v1/integrator/validate/{device}/{channel}": a.need(auth.Integrator, a.integratorValidate),
	}
	for route, h := range a.provisionHandlers() {
		handlers[route] = h
	}
	// Routes (what the OpenAPI test compares with openapi.yaml) is the list
	// registered: a route missing from either is a programming error.
	if len(handlers) != len(Routes) {
		return nil, fmt.Errorf("api: %d handlers for %d routes", len(handlers), len(Routes))
	}
	for _, route := range Routes {
		h, ok := handlers[route]
		if !ok {
			return nil, fmt.Errorf("api: no handler for %s", route)
		}
		m.HandleFunc(route, h)
	}
	m.HandleFunc("GET /api/openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(OpenAPI)
	})
	m.HandleFunc("GET /api/schemas/{name}", func(w http.ResponseWriter, r *http.Request) {
		b, err := contract.Schemas.ReadFile("schemas/" + r.PathValue("name"))
		if err != nil {
			writeError(w, http.StatusNotFound, "no such schema (telemetry, status, event, senml, report and defs .schema.json)")
			return
		}
		w.Header().Set("Content-Type", "application/schema+json")
		_, _ = w.Write(b)
	})
	m.HandleFunc("/api/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "no such API route (see /api/openapi.yaml)")
	})
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	m.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if d.Ready != nil && !d.Ready() {
			http.Error(w, "not ready: the live picture is not synced with the broker", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	if d.Metrics != nil {
		m.HandleFunc("GET /metrics", a.metrics)
	}
	static := http.FileServerFS(noListing{d.Pages})
	m.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		if r.URL.Path == "/" {
			http.Redirect(w, r, "/wall/", http.StatusFound)
			return
		}
		static.ServeHTTP(w, r)
	}))
	return a, nil
}

// ServeHTTP adds the security headers and serves the request.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	if strings.HasPrefix(r.URL.Path, "/api/") {
		h.Set("Cache-Control", "no-store")
	}
	a.mux.ServeHTTP(w, r)
}

type handler func(w http.ResponseWriter, r *http.Request, s *auth.Session)

// anyRole is what a route every signed-in user may call needs (the
// session: who am I, and the CSRF token).
const anyRole auth.Role = ""

// need wraps h: a valid session with at least role need; for anything but
// GET, a person's session (an enrolled wall only views), the CSRF token
// and an allowed Origin.
func (a *API) need(role auth.Role, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := a.sessionOf(r)
		if s == nil {
			writeError(w, http.StatusUnauthorized, "log in first")
			return
		}
		if s.Kiosk != "" && r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, http.StatusForbidden, "an enrolled wall's kiosk session only views")
			return
		}
		if role != anyRole && !s.User.Role.Allows(role) {
			writeError(w, http.StatusForbidden, fmt.Sprintf("your role (%s) may not do this; it needs %s", s.User.Role, role))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !a.sameOrigin(r) {
				writeError(w, http.StatusForbidden, "cross-origin request refused")
				return
			}
			if !a.d.Auth.CheckCSRF(r, s) {
				writeErrorCode(w, http.StatusForbidden, "csrf", "missing or wrong "+auth.CSRFHeader+" header (GET /api/v1/session gives it)")
				return
			}
		}
		h(w, r, s)
	}
}

// sameOrigin checks Origin (or, without it, Sec-Fetch-Site) on requests
// that change state.
func (a *API) sameOrigin(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" {
		return stream.OriginAllowed(o, r.Host, a.o.AllowedOrigins)
	}
	site := r.Header.Get("Sec-Fetch-Site")
	return site == "" || site == "same-origin" || site == "none"
}

// clientIP is the request's client address: the peer's, or, when the peer
// is a trusted proxy, the rightmost address in X-Forwarded-For that is not
// a trusted proxy (anything left of it was written by the client and
// proves nothing).
func (a *API) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !a.trusted(peer) {
		return host
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a trusted proxy wrote nonsense: keep the last address known
		}
		client = hop.Unmap()
		if !a.trusted(client) {
			break
		}
	}
	return client.String()
}

func (a *API) trusted(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range a.o.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// metrics serves /metrics to the scraper's bearer token or an admin.
func (a *API) metrics(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if a.o.MetricsToken != "" && ok && subtle.ConstantTimeCompare([]byte(tok), []byte(a.o.MetricsToken)) == 1 {
		a.d.Metrics.ServeHTTP(w, r)
		return
	}
	s := a.d.Auth.Session(r)
	if s == nil || !s.User.Role.Allows(auth.Admin) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ioc metrics"`)
		writeError(w, http.StatusUnauthorized, "metrics need the metrics_token as a bearer token, or an admin's session")
		return
	}
	a.d.Metrics.ServeHTTP(w, r)
}

// noListing hides directories that have no index.html, so the file server
// answers 404 instead of listing them.
type noListing struct{ fs.FS }

func (n noListing) Open(name string) (fs.File, error) {
	f, err := n.FS.Open(name)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil || !st.IsDir() {
		return f, err
	}
	if _, err := fs.Stat(n.FS, path.Join(name, "index.html")); err != nil {
		f.Close()
		return nil, fs.ErrNotExist
	}
	return f, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

type apiError struct {
	Error string `json:"error"` // English, for integrators and logs
	// Code is one of ErrorCodes and never changes meaning: the pages show
	// the user its text in their language.
	Code string `json:"code"`
}

// ErrorCodes are the codes an error answer carries. The wall and phone
// pages name each in every language (dashboards' i18n test checks).
var ErrorCodes = []string{
	"bad_request", "unauthorized", "forbidden", "csrf", "not_found", "method_not_allowed",
	"unsupported_media_type", "rate_limited", "login_failed", "device_not_found",
	"alert_not_active", "note_required", "note_too_long", "bad_range", "conflict",
	"bad_assignee", "alert_folded", "step_out_of_order", "not_assignee",
	"store_unavailable", "timeout", "internal", "kiosk_refused", "integrator_not_found", "busy",
}

// writeError answers with msg and the code that status implies.
func writeError(w http.ResponseWriter, status int, msg string) {
	code := "bad_request"
	switch status {
	case http.StatusUnauthorized:
		code = "unauthorized"
	case http.StatusForbidden:
		code = "forbidden"
	case http.StatusNotFound:
		code = "not_found"
	case http.StatusMethodNotAllowed:
		code = "method_not_allowed"
	case http.StatusUnsupportedMediaType:
		code = "unsupported_media_type"
	case http.StatusTooManyRequests:
		code = "rate_limited"
	case http.StatusConflict:
		code = "conflict"
	case http.StatusBadGateway:
		code = "store_unavailable"
	case http.StatusGatewayTimeout:
		code = "timeout"
	case http.StatusInternalServerError:
		code = "internal"
	}
	writeErrorCode(w, status, code, msg)
}

// writeErrorCode answers with msg and a code more specific than the
// status's.
func writeErrorCode(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Error: msg, Code: code})
}

// readJSON decodes a bounded JSON body strictly.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "send Content-Type: application/json")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
		return false
	}
	return true
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type sessionInfo struct {
	Username string    `json:"username"`
	Name     string    `json:"name"`
	Role     auth.Role `json:"role"`
	// Integrator is a role integrator user's integrator.
	Integrator string    `json:"integrator,omitempty"`
	Expires    time.Time `json:"expires"`
	CSRF       string    `json:"csrf"`
	// Teams are the ids of the teams the user is a member of: their jobs
	// are the alerts dispatched to them or to one of these.
	Teams []string `json:"teams"`
	// Kiosk is the enrolled wall's id, for a wall's kiosk session.
	Kiosk string `json:"kiosk,omitempty"`
}

func (a *API) login(w http.ResponseWriter, r *http.Request) {
	// A login form posted from another site would log the victim in as
	// the attacker: refuse foreign origins here too.
	if !a.sameOrigin(r) {
		writeError(w, http.StatusForbidden, "cross-origin request refused")
		return
	}
	var req loginRequest
	if !readJSON(w, r, &req) {
		return
	}
	ip := a.clientIP(r)
	s, cookie, err := a.d.Auth.Login(ip, req.Username, req.Password)
	switch {
	case errors.Is(err, auth.ErrRateLimited):
		a.d.Audit.Record(AuditEntry{Action: "login_limited", User: req.Username, IP: ip})
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusTooManyRequests, "too many login attempts; wait a minute")
		return
	case err != nil:
		a.d.Audit.Record(AuditEntry{Action: "login_failed", User: req.Username, IP: ip})
		writeErrorCode(w, http.StatusUnauthorized, "login_failed", "wrong username or password")
		return
	}
	a.d.Audit.Record(AuditEntry{Action: "login", User: s.User.Username, IP: ip})
	http.SetCookie(w, cookie)
	writeJSON(w, http.StatusOK, a.info(s))
}

func (a *API) info(s *auth.Session) sessionInfo {
	return sessionInfo{Username: s.User.Username, Name: s.User.Name, Role: s.User.Role, Integrator: s.User.Integrator, Expires: s.Expires, CSRF: s.CSRF, Kiosk: s.Kiosk,
		Teams: a.d.Auth.TeamsOf(s.User.Username)}
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) {
	s := a.d.Auth.Session(r)
	if s == nil && a.kioskSession(r) != nil {
		// A passer-by must not take the wall off: an admin revokes it.
		writeError(w, http.StatusForbidden, "an enrolled wall's kiosk session ends when an admin revokes it")
		return
	}
	cookie, rev := a.d.Auth.Logout(r)
	if s != nil {
		a.d.Audit.Record(AuditEntry{Action: "logout", User: s.User.Username, IP: a.clientIP(r)})
	}
	if rev != nil {
		a.d.Stream.CloseSession(rev.ID)
		if a.d.Revoke != nil {
			a.d.Revoke(*rev)
		}
	}
	http.SetCookie(w, cookie)
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) session(w http.ResponseWriter, r *http.Request, s *auth.Session) {
	if s.Kiosk != "" {
		a.renewKiosk(w, r)
	}
	writeJSON(w, http.StatusOK, a.info(s))
}

type provinceInfo struct {
	Name string `json:"name"`
	// People are the users' display names by username, so that a page
	// says who acknowledged ("Trực ban IOC"), not the login name.
	People map[string]string `json:"people"`
	// Teams are the teams alerts may be dispatched to.
	Teams     []auth.Team         `json:"teams"`
	Districts []registry.District `json:"districts"`
	Outline   json.RawMessage     `json:"outline"`
	// Boundaries are the district polygons (GeoJSON FeatureCollection,
	// properties.district), or null.
	Boundaries json.RawMessage `json:"boundaries"`
	// Levels are the rules' alarm levels on readings.
	Levels []alert.Level `json:"levels"`
}

func (a *API) province(w http.ResponseWriter, _ *http.Request, _ *auth.Session) {
	out := provinceInfo{Name: a.Registry().Province(), People: a.d.Auth.DisplayNames(), Teams: a.d.Auth.Teams(), Districts: a.Registry().Districts(), Outline: json.RawMessage("null"), Boundaries: json.RawMessage("null"), Levels: a.d.Levels}
	if out.Levels == nil {
		out.Levels = []alert.Level{}
	}
	if out.Teams == nil {
		out.Teams = []auth.Team{}
	}
	if len(a.d.Outline) > 0 {
		out.Outline = a.d.Outline
	}
	if len(a.d.Boundaries) > 0 {
		out.Boundaries = a.d.Boundaries
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) devices(w http.ResponseWriter, r *http.Request, _ *auth.Session) {
	q := r.URL.Query()
	f, err := live.ParseFilter(q.Get("district"), "", q.Get("kind"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": a.d.Picture.Devices(f)})
}

type deviceInfo struct {
	contract.DeviceState
	Profile *registry.Profile `json:"profile,omitempty"`
	Active  []alert.Alert     `json:"active_alerts"`
	// Units are the units its SenML readings gave its fields, by field.
	Units map[string]string `json:"units,omitempty"`
}

func (a *API) device(w http.ResponseWriter, r *http.Request, _ *auth.Session) {
	id := r.PathValue("id")
	dev, ok := a.Registry().Device(id)
	if !ok {
		writeErrorCode(w, http.StatusNotFound, "device_not_found", "no device "+id+" in the registry")
		return
	}
	st, ok := a.d.Picture.Device(id)
	if !ok {
		st = contract.UnknownDevice(dev)
	}
	out := deviceInfo{DeviceState: st, Profile: dev.Profile, Active: []alert.Alert{}}
	for _, al := range a.d.Picture.Alerts(live.Filter{}) {
		if al.Device == id {
			out.Active = append(out.Active, al)
		}
	}
	units, err := a.units(r.Context(), id)
	if err != nil {
		a.d.Log.Warn("api: device units: store read failed", "device", id, "err", err) // the rest stands
	}
	out.Units = units
	writeJSON(w, http.StatusOK, out)
}

// windows are the aggregation windows a history call rounds up to.
var windows = []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute,
	5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour,
	6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

// Window picks the aggregation window for a range: the requested one, or
// larger so that the range holds at most maxPoints windows, rounded up to
// a whole step.
func Window(span, requested time.Duration, maxPoints int) time.Duration {
	need := time.Duration(math.Ceil(float64(span) / float64(maxPoints)))
	if requested > need {
		need = requested
	}
	for _, w := range windows {
		if w >= need {
			return w
		}
	}
	return windows[len(windows)-1]
}

// maxHistory bounds a history range.
const maxHistory = 400 * 24 * time.Hour

// timeRange reads from/to (RFC 3339; default the last 24 hours).
func (a *API) timeRange(w http.ResponseWriter, r *http.Request, max time.Duration) (from, to time.Time, ok bool) {
	q := r.URL.Query()
	to = a.now()
	if s := q.Get("to"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			writeErrorCode(w, http.StatusBadRequest, "bad_range", "to: use RFC 3339, e.g. 2026-11-23T08:00:00+07:00")
			return from, to, false
		}
		to = t
	}
	from = to.Add(-24 * time.Hour)
	if s := q.Get("from"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			writeErrorCode(w, http.StatusBadRequest, "bad_range", "from: use RFC 3339, e.g. 2026-11-22T08:00:00+07:00")
			return from, to, false
		}
		from = t
	}
	if !from.Before(to) {
		writeErrorCode(w, http.StatusBadRequest, "bad_range", "from must be before to")
		return from, to, false
	}
	if to.Sub(from) > max {
		writeErrorCode(w, http.StatusBadRequest, "bad_range", fmt.Sprintf("range longer than %s", max))
		return from, to, false
	}
	return from, to, true
}

type historyResponse struct {
	Device string         `json:"device"`
	From   time.Time      `json:"from"`
	To     time.Time      `json:"to"`
	Window string         `json:"window"`
	Series []store.Series `json:"series"`
}

func (a *API) history(w http.ResponseWriter, r *http.Request, _ *auth.Session) {
	id := r.PathValue("id")
	if _, ok := a.Registry().Lookup(id); !ok { // a retired device's history is kept
		writeErrorCode(w, http.StatusNotFound, "device_not_found", "no device "+id+" in the registry")
		return
	}
	from, to, ok := a.timeRange(w, r, maxHistory)
	if !ok {
		return
	}
	var requested time.Duration
	if s := r.URL.Query().Get("window"); s != "" && s != "auto" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			writeError(w, http.StatusBadRequest, "window: a duration such as 1m or 1h, or auto")
			return
		}
		requested = d
	}
	m := r.URL.Query().Get("measurement")
	if len(m) > 64 {
		writeError(w, http.StatusBadRequest, "measurement: too long")
		return
	}
	every := Window(to.Sub(from), requested, a.o.HistoryMaxPoints)
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	series, err := a.d.Store.Aggregate(ctx, store.AggregateQuery{Device: id, Measurement: m, From: from, To: to, Every: every})
	if err != nil {
		a.d.Log.Warn("api: history query failed", "device", id, "err", err)
		writeError(w, http.StatusBadGateway, "the time-series store did not answer: "+err.Error())
		return
	}
	// Alert history is in the same store under the device's tag; it is
	// served by /alerts/history, not charted.
	kept := []store.Series{}
	for _, sr := range series {
		if m != "" || (sr.Measurement != "alert" && sr.Measurement != "maintenance") {
			kept = append(kept, sr)
		}
	}
	series = kept
	writeJSON(w, http.StatusOK, historyResponse{Device: id, From: from, To: to, Window: every.String(), Series: series})
}

func (a *API) alerts(w http.ResponseWriter, r *http.Request, _ *auth.Session) {
	q := r.URL.Query()
	f, err := live.ParseFilter(q.Get("district"), q.Get("severity"), q.Get("kind"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": a.d.Picture.Alerts(f)})
}

// HistoryEntry is one alert transition from the store.
type HistoryEntry struct {
	At         time.Time `json:"at"`
	Transition string    `json:"transition"`
	Alert      string    `json:"alert"`
	Rule       string    `json:"rule"`
	Device     string    `json:"device"`
	Severity   string    `json:"severity"`
	State      string    `json:"state,omitempty"`
	Value      string    `json:"value,omitempty"`
	MessageVI  string    `json:"message_vi,omitempty"`
	MessageEN  string    `json:"message_en,omitempty"`
	By         string    `json:"by,omitempty"`
	Note       string    `json:"note,omitempty"`
}

// maxHistoryEntries bounds an alert history answer (the latest are kept).
const maxHistoryEntries = 2000

func (a *API) alertHistory(w http.ResponseWriter, r *http.Request, _ *auth.Session) {
	id := r.URL.Query().Get("device")
	if id == "" {
		writeError(w, http.StatusBadRequest, "device is required")
		return
	}
	if _, ok := a.Registry().Device(id); !ok && !strings.HasPrefix(id, "district:") {
		writeErrorCode(w, http.StatusNotFound, "device_not_found", "no device "+id+" in the registry")
		return
	}
	from, to, ok := a.timeRange(w, r, 90*24*time.Hour)
	if !ok {
		return
	}
	hs, ok := a.readAlertHistory(w, r, id, from, to)
	if !ok {
		return
	}
	if len(hs) > maxHistoryEntries {
		hs = hs[len(hs)-maxHistoryEntries:]
	}
	out := make([]HistoryEntry, 0, len(hs))
	for i := len(hs) - 1; i >= 0; i-- { // newest first
		h := &hs[i]
		out = append(out, HistoryEntry{At: h.At, Device: id, Transition: h.Transition, Alert: h.Alert.ID, Rule: h.Alert.Rule,
			Severity: h.Alert.Severity, State: h.Alert.State, Value: h.Alert.Value, MessageVI: h.Alert.MessageVI,
			MessageEN: h.Alert.MessageEN, By: h.By, Note: h.Note})
	}
	writeJSON(w, http.StatusOK, map[string]any{"device": id, "from": from, "to": to, "entries": out})
}

// readAlertHistory reads device's alert transitions from the store between
// from and to, oldest first; entries that are not an alert's are skipped.
// On a store error it answers 502 and returns false.
func (a *API) readAlertHistory(w http.ResponseWriter, r *http.Request, device string, from, to time.Time) ([]contract.History, bool) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	pts, err := a.d.Store.Query(ctx, store.Query{Device: device, Measurement: contract.AlertMeasurement, From: from, To: to})
	if err != nil {
		a.d.Log.Warn("api: alert history query failed", "device", device, "err", err)
		writeError(w, http.StatusBadGateway, "the time-series store did not answer: "+err.Error())
		return nil, false
	}
	out := make([]contract.History, 0, len(pts))
	for i := range pts {
		h, err := contract.ParseHistory(&pts[i])
		if err != nil || h.Alert == nil {
			continue // the query asks for measurement alert only
		}
		out = append(out, h)
	}
	return out, true
}

type noteRequest struct {
	Note string `json:"note"`
}

// checkNote refuses a note the alert service would refuse
// (contract.MaxNoteBytes), with the API's own error code.
func checkNote(w http.ResponseWriter, note string) bool {
	if len(note) > contract.MaxNoteBytes {
		writeErrorCode(w, http.StatusBadRequest, "note_too_long", fmt.Sprintf("note: at most %d bytes", contract.MaxNoteBytes))
		return false
	}
	return true
}

func (a *API) command(op contract.Op) handler {
	return func(w http.ResponseWriter, r *http.Request, s *auth.Session) {
		id := r.PathValue("rule") + "/" + r.PathValue("device")
		var req noteRequest
		if r.ContentLength != 0 && !readJSON(w, r, &req) {
			return
		}
		if !checkNote(w, req.Note) {
			return
		}
		if op == contract.OpResolve && strings.TrimSpace(req.Note) == "" {
			writeErrorCode(w, http.StatusBadRequest, "note_required", "note: say what was done before resolving")
			return
		}
		if _, ok := a.d.Picture.Alert(id); !ok {
			writeErrorCode(w, http.StatusNotFound, "alert_not_active", "no active alert "+id)
			return
		}
		a.run(w, r, s, contract.Command{Op: op, Alert: id, By: s.User.Username, Note: req.Note},
			AuditEntry{Action: string(op), User: s.User.Username, IP: a.clientIP(r), Alert: id, Note: req.Note})
	}
}

// refused reports whether the alert service answered no: a command it did
// not answer in time may still be applied.
type refused bool

// run sends c to the alert service and answers with its result; it
// reports whether the alert service refused it.
func (a *API) run(w http.ResponseWriter, r *http.Request, s *auth.Session, c contract.Command, e AuditEntry) refused {
	ctx, cancel := context.WithTimeout(r.Context(), a.o.CommandTimeout)
	defer cancel()
	res, err := a.d.Commander.Command(ctx, c)
	if err != nil {
		e.Result = "no answer"
		a.d.Audit.Record(e)
		writeError(w, http.StatusGatewayTimeout, "the alert service did not answer in time; it may still apply the command")
		return false
	}
	if !res.OK {
		e.Result = "refused: " + res.Error
		a.d.Audit.Record(e)
		writeError(w, http.StatusConflict, res.Error)
		return true
	}
	e.Result = "ok"
	a.d.Audit.Record(e)
	writeJSON(w, http.StatusOK, res)
	return false
}

type maintenanceRequest struct {
	Target string    `json:"target"`
	Until  time.Time `json:"until"`
	Note   string    `json:"note"`
}

func (a *API) maintenanceStart(w http.ResponseWriter, r *http.Request, s *auth.Session) {
	var req maintenanceRequest
	if !readJSON(w, r, &req) {
		return
	}
	if !a.validTarget(req.Target) {
		writeError(w, http.StatusBadRequest, "target: device:<id> or district:<id> of a registered device or district")
		return
	}
	if !checkNote(w, req.Note) {
		return
	}
	a.run(w, r, s, contract.Command{Op: contract.OpMaintenanceStart, Target: req.Target, Until: req.Until, By: s.User.Username, Note: req.Note},
		AuditEntry{Action: string(contract.OpMaintenanceStart), User: s.User.Username, IP: a.clientIP(r), Target: req.Target, Note: req.Note})
}

func (a *API) maintenanceEnd(w http.ResponseWriter, r *http.Request, s *auth.Session) {
	t := r.PathValue("target")
	if !a.validTarget(t) {
		writeError(w, http.StatusBadRequest, "target: device:<id> or district:<id>")
		return
	}
	a.run(w, r, s, contract.Command{Op: contract.OpMaintenanceEnd, Target: t, By: s.User.Username},
		AuditEntry{Action: string(contract.OpMaintenanceEnd), User: s.User.Username, IP: a.clientIP(r), Target: t})
}

// commission marks a commissioning device live.
func (a *API) commission(w http.ResponseWriter, r *http.Request, s *auth.Session) {
	id := r.PathValue("id")
	if _, ok := a.Registry().Device(id); !ok {
		writeError(w, http.StatusNotFound, "no such device")
		return
	}
	t := "device:" + id
	a.run(w, r, s, contract.Command{Op: contract.OpCommission, Target: t, By: s.User.Username},
		AuditEntry{Action: string(contract.OpCommission), User: s.User.Username, IP: a.clientIP(r), Target: t})
}

func (a *API) validTarget(t string) bool {
	if id, ok := strings.CutPrefix(t, "device:"); ok {
		_, ok := a.Registry().Device(id)
		return ok
	}
	if id, ok := strings.CutPrefix(t, "district:"); ok {
		_, ok := a.Registry().District(id)
		return ok
	}
	return false
}

func (a *API) audit(w http.ResponseWriter, _ *http.Request, _ *auth.Session) {
	entries, err := a.d.Audit.Tail(500)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries})
}
