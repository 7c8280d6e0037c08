package api

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"time"

	"github.com/ioc-vn/ioc/internal/auth"
	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/store"
)

// Bounds of GET /api/v1/readings.
const (
	readingsWindow   = 15 * time.Minute // how old a latest reading may be
	maxReadingFields = 8
	maxReadingPoints = 200_000 // telemetry points scanned in the window
)

// Reading is one device's latest value of one telemetry field.
type Reading struct {
	Device string    `json:"device"`
	Field  string    `json:"field"`
	Value  float64   `json:"value"`
	At     time.Time `json:"at"`
}

// readings answers GET /api/v1/readings?field=pm25&field=water_level_cm:
// each device's latest numeric reading of those telemetry fields in the
// last 15 minutes (the wall's readings panels rank them against the alarm
// levels), by device and field.
func (a *API) readings(w http.ResponseWriter, r *http.Request, _ *auth.Session) {
	fields := r.URL.Query()["field"]
	if len(fields) == 0 || len(fields) > maxReadingFields {
		writeError(w, http.StatusBadRequest, "field: one to 8 telemetry fields, e.g. field=pm25&field=water_level_cm")
		return
	}
	want := map[string]bool{}
	for _, f := range fields {
		if f == "" || len(f) > 64 {
			writeError(w, http.StatusBadRequest, "field: a telemetry field name")
			return
		}
		want[f] = true
	}
	to := a.now()
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	pts, err := a.d.Store.Scan(ctx, store.ScanQuery{Measurement: "telemetry", From: to.Add(-readingsWindow), To: to.Add(time.Second), Limit: maxReadingPoints})
	if errors.Is(err, store.ErrTooMany) {
		writeError(w, http.StatusServiceUnavailable, "more telemetry in the last 15 minutes than the readings call reads")
		return
	}
	if err != nil {
		a.d.Log.Warn("api: readings query failed", "err", err)
		writeError(w, http.StatusBadGateway, "the time-series store did not answer: "+err.Error())
		return
	}
	latest := map[[2]string]Reading{}
	for i := range pts {
		p := &pts[i]
		dev, ok := p.Tag("device")
		if !ok {
			continue
		}
		for _, f := range p.Fields {
			if !want[f.Key] {
				continue
			}
			var v float64
			switch f.Kind {
			case point.Float:
				v = f.F
			case point.Int:
				v = float64(f.I)
			default:
				continue
			}
			k := [2]string{dev, f.Key}
			if old, ok := latest[k]; !ok || !p.Time.Before(old.At) {
				latest[k] = Reading{Device: dev, Field: f.Key, Value: v, At: p.Time}
			}
		}
	}
	out := make([]Reading, 0, len(latest))
	for _, rd := range latest {
		out = append(out, rd)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Device != out[j].Device {
			return out[i].Device < out[j].Device
		}
		return out[i].Field < out[j].Field
	})
	writeJSON(w, http.StatusOK, map[string]any{"readings": out})
}

// units reads the latest unit of each field of device (ingest writes them
// as measurement "unit" when they are first seen or change, and daily);
// nil when it has none.
func (a *API) units(ctx context.Context, device string) (map[string]string, error) {
	pts, err := a.d.Store.Query(ctx, store.Query{Device: device, Measurement: payload.MeasurementUnit, From: time.Unix(0, 0), To: a.now().Add(time.Minute)})
	if err != nil || len(pts) == 0 {
		return nil, err
	}
	out := map[string]string{}
	for i := range pts { // oldest first: the last one wins
		for _, f := range pts[i].Fields {
			if f.Kind == point.String {
				out[f.Key] = f.S
			}
		}
	}
	return out, nil
}
