package api

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/ioc-vn/ioc/internal/auth"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/refusals"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/store"
	"github.com/ioc-vn/ioc/internal/validate"
)

// The integrator's own view: its devices with what was stored and what was
// refused, its recent _errors reports, and a payload check. Every answer
// holds the caller's integrator's devices only (auth.User.Integrator).

// maxIntegratorDevices bounds the devices one answer reads from the store.
const maxIntegratorDevices = 500

// integratorDevices is GET /api/v1/integrator/devices.
type integratorDevices struct {
	Integrator integratorInfo `json:"integrator"`
	// Since is when the server started counting refusals.
	Since     time.Time          `json:"refusals_since"`
	Devices   []integratorDevice `json:"devices"`
	Truncated bool               `json:"truncated,omitempty"`
}

type integratorInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type integratorDevice struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Kind         registry.Kind   `json:"kind"`
	District     string          `json:"district"`
	DistrictName string          `json:"district_name"`
	Status       contract.Status `json:"status"`
	Health       contract.Health `json:"health"`
	// LastSeen is the time of the newest stored point of the last day
	// (null: nothing stored in the last day).
	LastSeen *time.Time `json:"last_seen"`
	// LastPayload is that point and the others stored at the same time,
	// as line protocol with the registry's tags, as stored.
	LastPayload []string `json:"last_payload"`
	// Units are the units its SenML readings gave its fields, by field.
	Units   map[string]string `json:"units,omitempty"`
	Stored  refusals.Counts   `json:"stored"`
	Refused refusals.Counts   `json:"refused"`
}

func (a *API) integratorOf(w http.ResponseWriter, s *auth.Session) (registry.Integrator, bool) {
	in, ok := a.Registry().Integrator(s.User.Integrator)
	if !ok {
		writeErrorCode(w, http.StatusNotFound, "integrator_not_found", "your integrator "+s.User.Integrator+" is not in the device registry; ask the operations centre")
		return registry.Integrator{}, false
	}
	return in, true
}

func (a *API) integratorDevices(w http.ResponseWriter, r *http.Request, s *auth.Session) {
	in, ok := a.integratorOf(w, s)
	if !ok {
		return
	}
	reg := a.Registry()
	out := integratorDevices{Integrator: integratorInfo{ID: in.ID, Name: in.Name}, Devices: []integratorDevice{}}
	if a.d.Refusals != nil {
		out.Since = a.d.Refusals.Since()
	}
	now := a.now()
	for _, dev := range reg.Devices() {
		if dev.Integrator != in.ID {
			continue
		}
		if len(out.Devices) == maxIntegratorDevices {
			out.Truncated = true
			break
		}
		d, err := a.integratorDevice(r, reg, dev, now)
		if err != nil {
			a.d.Log.Warn("api: integrator devices: store read failed", "device", dev.ID, "err", err)
			writeError(w, http.StatusServiceUnavailable, "the store did not answer; try again")
			return
		}
		out.Devices = append(out.Devices, d)
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) integratorDevice(r *http.Request, reg *registry.Registry, dev *registry.Device, now time.Time) (integratorDevice, error) {
	st, ok := a.d.Picture.Device(dev.ID)
	if !ok {
		st = contract.UnknownDevice(dev)
	}
	d := integratorDevice{ID: dev.ID, Name: dev.Name, Kind: dev.Kind, District: dev.District, Status: st.Status, Health: st.Health, LastPayload: []string{}}
	if dist, ok := reg.District(dev.District); ok {
		d.DistrictName = dist.Name
	}
	if a.d.Refusals != nil {
		d.Refused = a.d.Refusals.Count(dev.Integrator, dev.ID)
	}
	pts, err := a.d.Store.Query(r.Context(), store.Query{Device: dev.ID, From: now.Add(-24 * time.Hour), To: now.Add(time.Second)})
	if err != nil {
		return d, err
	}
	// The device's own data: the alert service's history is the server's,
	// and the units are metadata (d.Units).
	pts = slices.DeleteFunc(pts, func(p point.Point) bool {
		return p.Measurement == payload.MeasurementAlert || p.Measurement == payload.MeasurementMaintenance || p.Measurement == payload.MeasurementUnit
	})
	if d.Units, err = a.units(r.Context(), dev.ID); err != nil {
		return d, err
	}
	if len(pts) == 0 {
		return d, nil
	}
	// A stored record is a distinct time: one message, or one instant of
	// a SenML pack or line-protocol batch. Query orders points by time.
	var last time.Time
	for i := range pts {
		t := pts[i].Time
		if i == 0 || !t.Equal(last) {
			d.Stored.Day++
			if now.Sub(t) < time.Hour {
				d.Stored.Hour++
			}
		}
		last = t
	}
	seen := last.UTC()
	d.LastSeen = &seen
	for i := len(pts) - 1; i >= 0 && pts[i].Time.Equal(last); i-- {
		d.LastPayload = append(d.LastPayload, string(point.AppendLine(nil, &pts[i])))
	}
	slices.Reverse(d.LastPayload)
	return d, nil
}

// integratorErrors is GET /api/v1/integrator/errors.
type integratorErrors struct {
	Since   time.Time              `json:"since"`
	Reports []contract.ErrorReport `json:"reports"`
}

func (a *API) integratorErrors(w http.ResponseWriter, _ *http.Request, s *auth.Session) {
	in, ok := a.integratorOf(w, s)
	if !ok {
		return
	}
	out := integratorErrors{Reports: []contract.ErrorReport{}}
	if a.d.Refusals != nil {
		out.Since = a.d.Refusals.Since()
		out.Reports = a.d.Refusals.Recent(in.ID)
	}
	writeJSON(w, http.StatusOK, out)
}

// validation is the answer of POST /api/v1/integrator/validate/...: the
// same as ingest's POST /v1/validate/...
type validation struct {
	Valid  bool           `json:"valid"`
	Reason payload.Reason `json:"reason,omitempty"`
	Error  string         `json:"error,omitempty"`
	validate.Validation
}

func (a *API) integratorValidate(w http.ResponseWriter, r *http.Request, s *auth.Session) {
	in, ok := a.integratorOf(w, s)
	if !ok {
		return
	}
	select {
	case a.checks <- struct{}{}:
		defer func() { <-a.checks }()
	default:
		w.Header().Set("Retry-After", "1")
		writeErrorCode(w, http.StatusServiceUnavailable, "busy", "too many payload checks at once; retry after a second")
		return
	}
	limits := a.o.PayloadLimits
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(limits.MaxBytes)))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		pe := payload.Errorf(payload.ReasonTooLarge, "the payload is larger than %d bytes", limits.MaxBytes)
		writeJSON(w, validate.HTTPStatus(pe.Reason), validation{Reason: pe.Reason, Error: pe.Detail})
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "the body could not be read")
		return
	}
	topic := contract.DeviceTopic(in.ID, r.PathValue("device"), r.PathValue("channel"))
	v, pe := validate.Checker{Limits: limits}.Message(a.Registry(), topic, body, a.now())
	if pe != nil {
		writeJSON(w, validate.HTTPStatus(pe.Reason), validation{Reason: pe.Reason, Error: pe.Detail, Validation: v})
		return
	}
	if v.Points == nil {
		v.Points = []string{}
	}
	writeJSON(w, http.StatusOK, validation{Valid: true, Validation: v})
}
