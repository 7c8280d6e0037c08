package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ioc-vn/ioc/internal/access"
	"github.com/ioc-vn/ioc/internal/auth"
	"github.com/ioc-vn/ioc/internal/provision"
	"github.com/ioc-vn/ioc/internal/registry"
)

// maxAuditIDs is how many imported devices an audit entry names.
const maxAuditIDs = 50

// provisionRoutes edit the registry and credentials files (admins).
var provisionRoutes = []string{
	"GET /api/v1/admin/integrators",
	"POST /api/v1/admin/integrators",
	"DELETE /api/v1/admin/integrators/{id}",
	"POST /api/v1/admin/integrators/{id}/disable",
	"POST /api/v1/admin/integrators/{id}/secret",
	"GET /api/v1/admin/devices",
	"POST /api/v1/admin/devices",
	"DELETE /api/v1/admin/devices/{id}",
	"POST /api/v1/admin/devices/{id}/disable",
	"POST /api/v1/admin/devices/{id}/secret",
	"POST /api/v1/admin/devices/import",
	"GET /api/v1/admin/devices/template",
	"GET /api/v1/admin/devices/silent",
	"POST /api/v1/admin/devices/retire",
	"POST /api/v1/admin/devices/{id}/unretire",
}

func (a *API) provisionHandlers() map[string]http.HandlerFunc {
	admin := func(h handler) http.HandlerFunc {
		return a.need(auth.Admin, func(w http.ResponseWriter, r *http.Request, s *auth.Session) {
			if a.d.Provision == nil {
				writeError(w, http.StatusNotImplemented, "provisioning is off: set the credentials file in the IOC server's configuration")
				return
			}
			h(w, r, s)
		})
	}
	return map[string]http.HandlerFunc{
		"GET /api/v1/admin/integrators":               admin(a.listIntegrators),
		"POST /api/v1/admin/integrators":              admin(a.addIntegrator),
		"DELETE /api/v1/admin/integrators/{id}":       admin(a.deleteIntegrator),
		"POST /api/v1/admin/integrators/{id}/disable": admin(a.disable("integrator")),
		"POST /api/v1/admin/integrators/{id}/secret":  admin(a.secret("integrator")),
		"GET /api/v1/admin/devices":                   admin(a.listDevices),
		"POST /api/v1/admin/devices":                  admin(a.addDevice),
		"DELETE /api/v1/admin/devices/{id}":           admin(a.deleteDevice),
		"POST /api/v1/admin/devices/{id}/disable":     admin(a.disable("device")),
		"POST /api/v1/admin/devices/{id}/secret":      admin(a.secret("device")),
		"POST /api/v1/admin/devices/import":           admin(a.importDevices),
		"GET /api/v1/admin/devices/template":          admin(a.deviceTemplate),
		"GET /api/v1/admin/devices/silent":            admin(a.silentDevices),
		"POST /api/v1/admin/devices/retire":           admin(a.retireDevices),
		"POST /api/v1/admin/devices/{id}/unretire":    admin(a.unretireDevice),
	}
}

// accountInfo is an account as the admin page lists it: never its hash.
type accountInfo struct {
	Username string `json:"username"`
	Role     string `json:"role"`
	Device   string `json:"device,omitempty"`
	Disabled bool   `json:"disabled"`
}

type provisionedIntegrator struct {
	ID       string        `json:"id"`
	Name     string        `json:"name"`
	Devices  int           `json:"devices"`
	Accounts []accountInfo `json:"accounts"`
}

func (a *API) listIntegrators(w http.ResponseWriter, _ *http.Request, _ *auth.Session) {
	s, err := a.d.Provision.Read()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := make([]provisionedIntegrator, 0, len(s.Registry.Integrators))
	for _, in := range s.Registry.Integrators {
		info := provisionedIntegrator{ID: in.ID, Name: in.Name, Accounts: []accountInfo{}}
		for _, d := range s.Registry.Devices {
			if d.Integrator == in.ID {
				info.Devices++
			}
		}
		for _, ac := range s.Accounts {
			if ac.Integrator == in.ID && ac.SendsDeviceData() {
				info.Accounts = append(info.Accounts, accountInfo{Username: ac.Username, Role: string(ac.Role), Device: ac.Device, Disabled: ac.Disabled})
			}
		}
		out = append(out, info)
	}
	writeJSON(w, http.StatusOK, map[string]any{"integrators": out})
}

// deviceJSON is a registry device in the API's key names (the registry
// file's).
type deviceJSON struct {
	ID            string            `json:"id"`
	Kind          registry.Kind     `json:"kind"`
	Name          string            `json:"name"`
	District      string            `json:"district"`
	Integrator    string            `json:"integrator"`
	Parent        string            `json:"parent,omitempty"`
	Lat           float64           `json:"lat"`
	Lon           float64           `json:"lon"`
	Profile       *registry.Profile `json:"profile,omitempty"`
	Commissioning bool              `json:"commissioning,omitempty"`
	// Retired is when the device was retired (listing only; the retire
	// and unretire routes change it).
	Retired *time.Time `json:"retired,omitempty"`
	// Account is the device's own account, if it has one (listing only).
	Account *accountInfo `json:"account,omitempty"`
}

func (d deviceJSON) device() registry.Device {
	return registry.Device{ID: d.ID, Kind: d.Kind, Name: d.Name, District: d.District, Integrator: d.Integrator,
		Parent: d.Parent, Lat: d.Lat, Lon: d.Lon, Profile: d.Profile, Commissioning: d.Commissioning}
}

func (a *API) listDevices(w http.ResponseWriter, r *http.Request, _ *auth.Session) {
	s, err := a.d.Provision.Read()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	in := r.URL.Query().Get("integrator")
	own := map[string]*accountInfo{}
	for _, ac := range s.Accounts {
		if ac.Role == access.RoleDevice {
			own[ac.Device] = &accountInfo{Username: ac.Username, Role: string(ac.Role), Device: ac.Device, Disabled: ac.Disabled}
		}
	}
	out := []deviceJSON{}
	for _, d := range s.Registry.Devices {
		if in != "" && d.Integrator != in {
			continue
		}
		out = append(out, deviceJSON{ID: d.ID, Kind: d.Kind, Name: d.Name, District: d.District, Integrator: d.Integrator,
			Parent: d.Parent, Lat: d.Lat, Lon: d.Lon, Profile: d.Profile, Commissioning: d.Commissioning, Retired: d.Retired, Account: own[d.ID]})
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": out})
}

func (a *API) addIntegrator(w http.ResponseWriter, r *http.Request, s *auth.Session) {
	var req struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		// Account also creates the integrator's account and answers its
		// secret.
		Account bool `json:"account"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	var secret, hash, user string
	if req.Account {
		var err error
		if secret, hash, err = a.newSecret(); err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
	}
	a.change(w, r, s, AuditEntry{Action: "integrator_add", Target: req.ID}, func(set *provision.Set) error {
		if err := set.AddIntegrator(registry.Integrator{ID: req.ID, Name: req.Name}); err != nil {
			return err
		}
		if req.Account {
			var err error
			user, err = set.SetSecret(req.ID, "", hash)
			return err
		}
		return nil
	}, func() any {
		if !req.Account {
			return map[string]any{"id": req.ID}
		}
		return map[string]any{"id": req.ID, "username": user, "secret": secret}
	})
}

func (a *API) deleteIntegrator(w http.ResponseWriter, r *http.Request, s *auth.Session) {
	id := r.PathValue("id")
	a.change(w, r, s, AuditEntry{Action: "integrator_delete", Target: id}, func(set *provision.Set) error {
		return set.DeleteIntegrator(id)
	}, func() any { return map[string]any{"id": id} })
}

func (a *API) addDevice(w http.ResponseWriter, r *http.Request, s *auth.Session) {
	var req deviceJSON
	if !readJSON(w, r, &req) {
		return
	}
	if req.Account != nil {
		writeError(w, http.StatusBadRequest, "account is not set here: POST /api/v1/admin/devices/{id}/secret makes one")
		return
	}
	a.change(w, r, s, AuditEntry{Action: "device_add", Target: req.ID}, func(set *provision.Set) error {
		return set.AddDevice(req.device())
	}, func() any { return map[string]any{"id": req.ID} })
}

func (a *API) deleteDevice(w http.ResponseWriter, r *http.Request, s *auth.Session) {
	id := r.PathValue("id")
	a.change(w, r, s, AuditEntry{Action: "device_delete", Target: id}, func(set *provision.Set) error {
		return set.DeleteDevice(id)
	}, func() any { return map[string]any{"id": id} })
}

// disable answers POST .../{id}/disable {"disabled": true|false}.
func (a *API) disable(what string) handler {
	return func(w http.ResponseWriter, r *http.Request, s *auth.Session) {
		var req struct {
			Disabled bool `json:"disabled"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		id := r.PathValue("id")
		action := what + "_enable"
		if req.Disabled {
			action = what + "_disable"
		}
		a.change(w, r, s, AuditEntry{Action: action, Target: id}, func(set *provision.Set) error {
			if what == "device" {
				return set.DisableDevice(id, req.Disabled)
			}
			return set.DisableIntegrator(id, req.Disabled)
		}, func() any { return map[string]any{"id": id, "disabled": req.Disabled} })
	}
}

// secret answers POST .../{id}/secret: a new secret for the integrator's
// or device's account (made if missing), shown in this answer only.
func (a *API) secret(what string) handler {
	return func(w http.ResponseWriter, r *http.Request, s *auth.Session) {
		id := r.PathValue("id")
		secret, hash, err := a.newSecret()
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		var user string
		a.change(w, r, s, AuditEntry{Action: "secret_" + what, Target: id}, func(set *provision.Set) error {
			if what == "device" {
				user, err = set.SetSecret("", id, hash)
			} else {
				user, err = set.SetSecret(id, "", hash)
			}
			return err
		}, func() any { return map[string]any{"username": user, "secret": secret} })
	}
}

func (a *API) newSecret() (string, string, error) {
	it := a.d.SecretIterations
	if it <= 0 {
		it = access.DefaultIterations
	}
	return provision.NewSecret(it)
}

// importDevices answers POST /api/v1/admin/devices/import with a CSV or
// .xlsx body: with dry_run=true the report only; otherwise, when no row
// has an error, the devices are added. A report with errors is 422.
func (a *API) importDevices(w http.ResponseWriter, r *http.Request, s *auth.Session) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, provision.MaxImportBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the file is larger than %d bytes", provision.MaxImportBytes))
		return
	}
	dry := r.URL.Query().Get("dry_run") == "true"
	set, err := a.d.Provision.Read()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	im, err := provision.ReadDevices(data, set)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if im.Errors == nil {
		im.Errors = []provision.RowError{}
	}
	ids := make([]string, len(im.Devices))
	for i, d := range im.Devices {
		ids[i] = d.ID
	}
	report := map[string]any{"rows": im.Rows, "errors": im.Errors, "devices": ids, "applied": false}
	if len(im.Errors) > 0 || dry {
		status := http.StatusOK
		if len(im.Errors) > 0 {
			status = http.StatusUnprocessableEntity
		}
		writeJSON(w, status, report)
		return
	}
	// The audit line names the first devices only: a line stays short
	// (the audit log's reader takes lines up to 64 KiB).
	target := ids
	if len(target) > maxAuditIDs {
		target = append(target[:maxAuditIDs:maxAuditIDs], fmt.Sprintf("… (+%d)", len(ids)-maxAuditIDs))
	}
	a.change(w, r, s, AuditEntry{Action: "devices_import", Target: strings.Join(target, ","), Note: fmt.Sprintf("%d devices", len(ids))},
		func(set *provision.Set) error {
			// Checked again on the files as they are now.
			again, err := provision.ReadDevices(data, set)
			if err != nil {
				return err
			}
			if len(again.Errors) > 0 {
				return fmt.Errorf("%w: the registry changed since the dry run; run it again", provision.ErrConflict)
			}
			for _, d := range again.Devices {
				if err := set.AddDevice(d); err != nil {
					return err
				}
			}
			return nil
		}, func() any {
			report["applied"] = true
			return report
		})
}

func (a *API) deviceTemplate(w http.ResponseWriter, r *http.Request, _ *auth.Session) {
	if r.URL.Query().Get("format") == "xlsx" {
		b, err := provision.TemplateXLSX()
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
		w.Header().Set("Content-Disposition", `attachment; filename="thiet-bi-mau.xlsx"`)
		_, _ = w.Write(b)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="thiet-bi-mau.csv"`)
	_, _ = w.Write(provision.TemplateCSV())
}

// change applies edit to the files, audits the outcome (never a secret),
// puts the files in force (this server's registry, ingest's reload) and
// answers answer(), with "reload_error" if the reload failed.
func (a *API) change(w http.ResponseWriter, r *http.Request, s *auth.Session, e AuditEntry, edit func(*provision.Set) error, answer func() any) {
	e.User, e.IP = s.User.Username, a.clientIP(r)
	reg, err := a.d.Provision.Apply(edit)
	if err != nil {
		e.Result = "refused: " + err.Error()
		a.d.Audit.Record(e)
		var ref *provision.Refused
		switch {
		case errors.As(err, &ref):
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": "change refused: nothing changed", "code": "bad_request", "errors": ref.Errors})
		case errors.Is(err, provision.ErrNotFound):
			writeError(w, http.StatusNotFound, err.Error())
		case errors.Is(err, provision.ErrConflict):
			writeError(w, http.StatusConflict, err.Error())
		default:
			writeError(w, http.StatusInternalServerError, err.Error())
		}
		return
	}
	a.SetRegistry(reg)
	e.Result = "ok"
	var reloadErr error
	if a.d.Provisioned != nil {
		reloadErr = a.d.Provisioned()
	}
	if reloadErr != nil {
		e.Result = "ok; reload failed: " + reloadErr.Error()
	}
	a.d.Audit.Record(e)
	out := answer()
	if m, ok := out.(map[string]any); ok && reloadErr != nil {
		m["reload_error"] = reloadErr.Error()
	}
	status := http.StatusOK
	if r.Method == http.MethodPost && (e.Action == "integrator_add" || e.Action == "device_add") {
		status = http.StatusCreated
	}
	writeJSON(w, status, out)
}
