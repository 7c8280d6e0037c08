package api

import (
	"net/http"
	"strings"

	"github.com/ioc-vn/ioc/internal/auth"
	"github.com/ioc-vn/ioc/internal/registry"
)

// Reloaded is what a reload of the IOC server put in force.
type Reloaded struct {
	Devices   int `json:"devices"`
	Districts int `json:"districts"`
}

// Registry is the device registry in force.
func (a *API) Registry() *registry.Registry { return a.reg.Load() }

// SetRegistry swaps in a reloaded registry (nil is ignored): the next
// request sees it.
func (a *API) SetRegistry(r *registry.Registry) {
	if r != nil {
		a.reg.Store(r)
	}
}

// reload answers POST /api/v1/admin/reload: what the reload put in force,
// or 422 with every error (nothing changed). Both are audited.
func (a *API) reload(w http.ResponseWriter, r *http.Request, s *auth.Session) {
	e := AuditEntry{Action: "reload", User: s.User.Username, IP: a.clientIP(r)}
	if a.d.Reload == nil {
		writeError(w, http.StatusNotImplemented, "this server has no reload")
		return
	}
	out, err := a.d.Reload()
	if err != nil {
		e.Result = "refused: " + err.Error()
		a.d.Audit.Record(e)
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"error":  "reload refused: nothing changed",
			"errors": strings.Split(err.Error(), "\n"),
		})
		return
	}
	e.Result = "ok"
	a.d.Audit.Record(e)
	writeJSON(w, http.StatusOK, out)
}
