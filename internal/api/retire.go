package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ioc-vn/ioc/internal/auth"
	"github.com/ioc-vn/ioc/internal/provision"
	"github.com/ioc-vn/ioc/internal/registry"
)

// RetireAfter is how long a device must have been silent (no stored
// data of its own) before it may be retired.
const RetireAfter = 30 * 24 * time.Hour

// maxRetire bounds the devices one retire request names.
const maxRetire = 5000

// silentDevice is a device in service silent for RetireAfter or longer,
// or a retired one, as the admin page lists them.
type silentDevice struct {
	ID         string        `json:"id"`
	Name       string        `json:"name"`
	Kind       registry.Kind `json:"kind"`
	District   string        `json:"district"`
	Integrator string        `json:"integrator"`
	// LastSeen is its last stored data; SilentDays the whole days since.
	LastSeen   *time.Time `json:"last_seen"`
	SilentDays int        `json:"silent_days"`
	Retired    *time.Time `json:"retired,omitempty"`
}

// lastSeen reads every device's last stored data.
func (a *API) lastSeen(r *http.Request) (map[string]time.Time, error) {
	return a.d.Store.LastSeen(r.Context())
}

// silentDevices answers GET /api/v1/admin/devices/silent: the devices in
// service whose last stored data is RetireAfter old or older (a device
// never heard from is commissioning or new, and is not listed), oldest
// first, and the retired devices.
func (a *API) silentDevices(w http.ResponseWriter, r *http.Request, _ *auth.Session) {
	seen, err := a.lastSeen(r)
	if err != nil {
		a.d.Log.Warn("api: silent devices: store read failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, "the store did not answer; try again")
		return
	}
	now := a.now()
	reg := a.Registry()
	row := func(d *registry.Device) silentDevice {
		s := silentDevice{ID: d.ID, Name: d.Name, Kind: d.Kind, District: d.District, Integrator: d.Integrator, Retired: d.Retired}
		if t, ok := seen[d.ID]; ok {
			t = t.UTC()
			s.LastSeen = &t
			s.SilentDays = int(now.Sub(t) / (24 * time.Hour))
		}
		return s
	}
	silent, retired := []silentDevice{}, []silentDevice{}
	for _, d := range reg.Devices() {
		if t, ok := seen[d.ID]; ok && now.Sub(t) >= RetireAfter {
			silent = append(silent, row(d))
		}
	}
	slices.SortStableFunc(silent, func(x, y silentDevice) int { return x.LastSeen.Compare(*y.LastSeen) })
	for _, d := range reg.Retired() {
		retired = append(retired, row(d))
	}
	writeJSON(w, http.StatusOK, map[string]any{"after_days": int(RetireAfter / (24 * time.Hour)), "silent": silent, "retired": retired})
}

// retireDevices answers POST /api/v1/admin/devices/retire {"devices":
// [ids]}: each must be in service and silent for RetireAfter; otherwise
// nothing changes (409, every device's problem listed). The devices stay
// in the registry as retired: their history is kept, and from then on
// they are not watched, counted or alerted on, and their data is refused.
func (a *API) retireDevices(w http.ResponseWriter, r *http.Request, s *auth.Session) {
	var req struct {
		Devices []string `json:"devices"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	if len(req.Devices) == 0 || len(req.Devices) > maxRetire {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("devices: name 1 to %d devices", maxRetire))
		return
	}
	seen, err := a.lastSeen(r)
	if err != nil {
		a.d.Log.Warn("api: retire: store read failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, "the store did not answer; try again")
		return
	}
	now := a.now()
	reg := a.Registry()
	var problems []string
	for _, id := range req.Devices {
		if _, ok := reg.Device(id); !ok {
			continue // not in service: the edit says why
		}
		t, ok := seen[id]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("device %q has never sent data; delete it instead, or wait for it", id))
		case now.Sub(t) < RetireAfter:
			problems = append(problems, fmt.Sprintf("device %q sent data %d days ago, on %s; only a device silent for %d days or more can be retired",
				id, int(now.Sub(t)/(24*time.Hour)), t.UTC().Format(time.RFC3339), int(RetireAfter/(24*time.Hour))))
		}
	}
	target := strings.Join(auditIDs(req.Devices), ",")
	if len(problems) > 0 {
		a.d.Audit.Record(AuditEntry{Action: "devices_retire", Target: target, User: s.User.Username, IP: a.clientIP(r),
			Result: "refused: " + strings.Join(problems, "; ")})
		writeJSON(w, http.StatusConflict, map[string]any{"error": "not retired: nothing changed", "code": "not_silent", "errors": problems})
		return
	}
	a.change(w, r, s, AuditEntry{Action: "devices_retire", Target: target, Note: fmt.Sprintf("%d devices", len(req.Devices))},
		func(set *provision.Set) error { return set.Retire(req.Devices, now) },
		func() any { return map[string]any{"retired": req.Devices, "at": now.UTC().Truncate(time.Second)} })
}

// unretireDevice answers POST /api/v1/admin/devices/{id}/unretire: the
// device is in service again, watched from now.
func (a *API) unretireDevice(w http.ResponseWriter, r *http.Request, s *auth.Session) {
	id := r.PathValue("id")
	a.change(w, r, s, AuditEntry{Action: "device_unretire", Target: id}, func(set *provision.Set) error {
		return set.Unretire(id)
	}, func() any { return map[string]any{"id": id} })
}

// auditIDs names at most maxAuditIDs devices and counts the rest.
func auditIDs(ids []string) []string {
	if len(ids) <= maxAuditIDs {
		return ids
	}
	return append(slices.Clone(ids[:maxAuditIDs]), fmt.Sprintf("… (+%d)", len(ids)-maxAuditIDs))
}
