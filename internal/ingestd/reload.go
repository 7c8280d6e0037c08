package ingestd

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"

	"github.com/ioc-vn/ioc/internal/access"
	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/alertd"
	"github.com/ioc-vn/ioc/internal/broker"
	"github.com/ioc-vn/ioc/internal/httpingest"
	"github.com/ioc-vn/ioc/internal/ingest"
	"github.com/ioc-vn/ioc/internal/registry"
)

// Reloaded is what a reload put in force (the answer of POST /-/reload).
type Reloaded struct {
	Devices int `json:"devices"`
	// Rules is the number of alert rules; 0 when this ingest runs no
	// alert service.
	Rules int `json:"rules,omitempty"`
	// Accounts lists the accounts added, removed and changed; nil when
	// this ingest checks no credentials (an external broker without HTTP
	// ingest: the broker's own files hold them).
	Accounts *access.Changes `json:"accounts,omitempty"`
	// Disconnected counts the MQTT connections of removed or changed
	// accounts that were closed.
	Disconnected int `json:"disconnected"`
}

// reloader reads the registry, the alert rules and the credentials again
// and puts them in force together, or not at all: the credentials are
// checked against the new registry, and one error anywhere keeps
// everything as it was.
type reloader struct {
	c       *Config
	log     *slog.Logger
	pipe    *ingest.Pipeline
	alerts  *alertd.Service     // nil: no alert service here
	broker  *broker.Broker      // nil: external broker, or anonymous
	http    *httpingest.Handler // nil: no HTTP ingest
	guesses *access.Limiter

	mu     sync.Mutex
	policy *access.Policy // nil: this ingest checks no credentials
}

// reload does one reload; the error lists every problem found, one a
// line, with the file's line where the loader knows it.
func (r *reloader) reload() (Reloaded, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	reg, err := registry.Load(r.c.Registry)
	if err != nil {
		errs = append(errs, err)
	}
	var rules *alert.Rules
	if r.alerts != nil {
		if rules, err = alert.LoadRules(r.c.Alerts.Rules); err != nil {
			errs = append(errs, err)
		}
	}
	var policy *access.Policy
	if r.policy != nil {
		if reg == nil {
			errs = append(errs, fmt.Errorf("credentials %s: not checked: they are checked against the registry, which is refused", r.c.Credentials))
		} else if policy, err = access.Load(r.c.Credentials, reg); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		err := errors.Join(errs...)
		r.log.Error("reload refused: registry, rules and credentials stay as they were", "err", err)
		return Reloaded{}, err
	}

	out := Reloaded{Devices: reg.Len()}
	r.pipe.SetRegistry(reg)
	if r.alerts != nil {
		r.alerts.Reload(rules, reg)
		out.Rules = len(rules.List)
	}
	if policy != nil {
		ch := policy.Diff(r.policy)
		r.policy = policy
		out.Accounts = &ch
		if r.http != nil {
			r.http.SetPolicy(policy)
		}
		r.guesses.Forgive(append(append([]string(nil), ch.Added...), ch.Changed...))
		if r.broker != nil {
			r.broker.SetAccess(policy)
			out.Disconnected = r.broker.DisconnectUsers(append(append([]string(nil), ch.Removed...), ch.Changed...))
		}
	}
	attrs := []any{"devices", out.Devices, "rules", out.Rules, "disconnected", out.Disconnected}
	if a := out.Accounts; a != nil {
		attrs = append(attrs, "accounts_added", a.Added, "accounts_removed", a.Removed, "accounts_changed", a.Changed)
	}
	r.log.Info("reloaded registry, rules and credentials", attrs...)
	return out, nil
}

// serveReload answers POST /-/reload: the reload's result as JSON, or 422
// with every error. Only loopback peers may call it: the listener may be
// opened to a scraper, and a reload is an operator's act (SIGHUP does the
// same from the host).
func (r *reloader) serveReload(w http.ResponseWriter, req *http.Request) {
	host, _, _ := net.SplitHostPort(req.RemoteAddr)
	if a, err := netip.ParseAddr(host); err != nil || !a.IsLoopback() {
		http.Error(w, "reload is accepted from this host only (loopback), or by SIGHUP", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	out, err := r.reload()
	if err != nil {
		w.WriteHeader(http.StatusUnprocessableEntity)
		_ = json.NewEncoder(w).Encode(struct {
			Error  string   `json:"error"`
			Errors []string `json:"errors"`
		}{"reload refused: nothing changed", strings.Split(err.Error(), "\n")})
		return
	}
	_ = json.NewEncoder(w).Encode(out)
}
