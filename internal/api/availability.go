package api

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ioc-vn/ioc/internal/auth"
	"github.com/ioc-vn/ioc/internal/availability"
	"github.com/ioc-vn/ioc/internal/registry"
)

// reportZone is the calendar of availability reports' days, weeks and
// months.
var reportZone = time.FixedZone("Asia/Ho_Chi_Minh", 7*3600) // no DST since 1975

// availabilityReport answers GET /api/v1/availability: the report as
// JSON, or as CSV with format=csv, for operators and admins. Anyone who
// sees the wall (viewers, enrolled walls) may read the per-district JSON
// it shows as "uptime today"; the rest stays with operators.
func (a *API) availabilityReport(w http.ResponseWriter, r *http.Request, s *auth.Session) {
	q := r.URL.Query()
	if !s.User.Role.Allows(auth.Operator) && (q.Get("group") != string(availability.ByDistrict) || (q.Get("format") != "" && q.Get("format") != "json")) {
		writeError(w, http.StatusForbidden, fmt.Sprintf("your role (%s) may read availability by district as JSON; the rest needs %s", s.User.Role, auth.Operator))
		return
	}
	from, to, ok := a.timeRange(w, r, availability.MaxRange)
	if !ok {
		return
	}
	o := availability.Options{From: from, To: to, Group: availability.Group(q.Get("group")),
		Period: availability.Period(q.Get("period")), Location: reportZone}
	if o.Group == "" {
		o.Group = availability.ByDevice
	}
	if err := o.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		writeError(w, http.StatusBadRequest, "format: json or csv")
		return
	}
	reg := a.Registry()
	district, integrator := q.Get("district"), q.Get("integrator")
	if _, ok := reg.District(district); district != "" && !ok {
		writeError(w, http.StatusBadRequest, "district: not in the registry")
		return
	}
	if _, ok := reg.Integrator(integrator); integrator != "" && !ok {
		writeError(w, http.StatusBadRequest, "integrator: not in the registry")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
	defer cancel()
	in, err := availability.Load(ctx, a.d.Store, from, to)
	if err != nil {
		a.d.Log.Warn("api: availability query failed", "err", err)
		writeError(w, http.StatusBadGateway, "the time-series store did not answer: "+err.Error())
		return
	}
	in.Names = map[string]string{}
	for _, d := range reg.Districts() {
		in.Names[d.ID] = d.Name
	}
	// A retired device counts until it was retired (Compute cuts it there).
	devs := reg.Devices()
	for _, d := range reg.Retired() {
		if d.Retired.After(from) {
			devs = append(devs, d)
		}
	}
	for _, d := range devs {
		in.Names[d.ID] = d.Name
		if it, ok := reg.Integrator(d.Integrator); ok && it.Name != "" {
			in.Names[it.ID] = it.Name
		}
		if (district != "" && d.District != district) || (integrator != "" && d.Integrator != integrator) || d.Kind == registry.Unregistered {
			continue
		}
		ad := availability.Device{ID: d.ID, Name: d.Name, Kind: string(d.Kind),
			District: d.District, Integrator: d.Integrator, Parent: d.Parent}
		if d.Retired != nil {
			ad.Retired = *d.Retired
		}
		in.Devices = append(in.Devices, ad)
	}
	rep, err := availability.Compute(in, o)
	if errors.Is(err, availability.ErrTooManyRows) {
		writeErrorCode(w, http.StatusBadRequest, "bad_range", err.Error())
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if format == "csv" {
		writeAvailabilityCSV(w, rep)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// writeAvailabilityCSV writes rep as CSV after a UTF-8 byte order mark,
// without which Excel reads Vietnamese names as Windows-1252. Times are
// in Asia/Ho_Chi_Minh, durations in seconds, percentages with a point.
func writeAvailabilityCSV(w http.ResponseWriter, rep availability.Report) {
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	name := fmt.Sprintf("kha-dung-%s-%s-%s.csv", rep.Group, rep.From.In(reportZone).Format("20060102"), rep.To.In(reportZone).Format("20060102"))
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("\uFEFF"))
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"key", "name", "start", "end", "devices", "counted_s", "unknown_s", "maintenance_s", "down_s", "degraded_s",
		"online_pct", "available_pct", "incidents", "acked", "restored", "mtta_s", "mttr_s"})
	pct := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'f', 4, 64)
	}
	sec := func(p *int64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatInt(*p, 10)
	}
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	for _, r := range rep.Rows {
		_ = cw.Write([]string{r.Key, r.Name, r.Start.In(reportZone).Format(time.RFC3339), r.End.In(reportZone).Format(time.RFC3339),
			n(int64(r.Devices)), n(r.Counted), n(r.Unknown), n(r.Maintenance), n(r.Down), n(r.Degraded), pct(r.Online), pct(r.Available),
			n(int64(r.Incidents)), n(int64(r.Acked)), n(int64(r.Restored)), sec(r.MTTA), sec(r.MTTR)})
	}
	cw.Flush()
}
