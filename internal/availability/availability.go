// Package availability computes, from the alert history in the
// time-series store, the share of time each device, recorder, gateway,
// district and integrator was online and healthy over days, weeks or
// months (Asia/Ho_Chi_Minh calendar), and the mean times to acknowledge and
// to restore their incidents. It reads only stored transitions, so any past
// period can be computed again; docs/AVAILABILITY.md has the definitions.
package availability

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/contract"
)

// Group is what a report's rows are about.
type Group string

// The groups a report can have.
const (
	ByDevice     Group = "device"
	ByNVR        Group = "nvr"     // a recorder with the cameras under it
	ByGateway    Group = "gateway" // a gateway with the devices under it
	ByDistrict   Group = "district"
	ByIntegrator Group = "integrator"
)

// Groups lists the groups in the API's order.
var Groups = []Group{ByDevice, ByNVR, ByGateway, ByDistrict, ByIntegrator}

// Period is the length of a report's time buckets.
type Period string

// The periods; Whole is one bucket for the whole range.
const (
	Whole Period = ""
	Day   Period = "day"
	Week  Period = "week" // Monday to Monday
	Month Period = "month"
)

// Device is what a report needs of a registered device.
type Device struct {
	ID, Name, Kind, District, Integrator string
	// Parent is its recorder or gateway, if any.
	Parent string
	// Retired, if set, is when the device was retired: it counts up to
	// then, and not in a bucket that starts later.
	Retired time.Time
}

// Input is what Compute works from.
type Input struct {
	Devices []Device
	// Names are the display names of districts, integrators, recorders
	// and gateways by id, for the rows.
	Names map[string]string
	// History are the alert and maintenance transitions from before the
	// range's start (to see what was active then) to its end.
	History []contract.History
	// FirstSeen is each device's first stored point: before it the
	// device's state is unknown.
	FirstSeen map[string]time.Time
}

// Options choose the range and the rows.
type Options struct {
	From, To time.Time
	Group    Group
	Period   Period
	// Location is the calendar of days, weeks and months.
	Location *time.Location
}

// Row is one group's numbers over one bucket. Durations are in seconds.
type Row struct {
	Key   string    `json:"key"`
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Devices is how many devices the row counts.
	Devices int `json:"devices"`
	// Counted is the devices' time in the bucket minus the unknown and
	// maintenance time: what the percentages divide by.
	Counted     int64 `json:"counted_s"`
	Unknown     int64 `json:"unknown_s"`
	Maintenance int64 `json:"maintenance_s"`
	Down        int64 `json:"down_s"`
	Degraded    int64 `json:"degraded_s"`
	// Online is the share of counted time not down; Available the share
	// neither down nor degraded, in percent. Nil when nothing was counted.
	Online    *float64 `json:"online_pct"`
	Available *float64 `json:"available_pct"`
	// Incidents raised in the bucket, how many of them were acknowledged
	// and restored, and the mean times (nil without any).
	Incidents int    `json:"incidents"`
	Acked     int    `json:"acked"`
	Restored  int    `json:"restored"`
	MTTA      *int64 `json:"mtta_s"`
	MTTR      *int64 `json:"mttr_s"`
}

// Report is Compute's answer.
type Report struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Group  Group     `json:"group"`
	Period Period    `json:"period"`
	Rows   []Row     `json:"rows"`
}

// Lookback is how far before a range's start the history is read to find
// the alerts and maintenance windows already open at the start.
const Lookback = 92 * 24 * time.Hour

// MaxRange bounds a report's range.
const MaxRange = 400 * 24 * time.Hour

// MaxRows bounds a report's rows (groups × buckets).
const MaxRows = 200_000

// ErrTooManyRows means the report would have more than MaxRows rows.
var ErrTooManyRows = errors.New("availability: too many rows; choose a shorter range, a longer period or another group")

// offlineRule is the shipped offline rule's id: history written before
// rule_kind was recorded is classified by it.
const offlineRule = "device-offline"

// class is what an alert does to availability.
type class int

const (
	ignored  class = iota // minor and info alerts
	down                  // a silence (offline) alert
	degraded              // any other critical or major alert
)

func classify(a *contract.AlertHistory) class {
	if a.RuleKind == string(alert.Silence) || (a.RuleKind == "" && a.Rule == offlineRule) {
		return down
	}
	if a.Severity == string(alert.Critical) || a.Severity == string(alert.Major) {
		return degraded
	}
	return ignored
}

// incident is one alert from its raise to its last resolve (a reopen
// within the flap window continues it).
type incident struct {
	device             string // a device id, or district:<id>
	district           string
	raised, acked, end time.Time // zero: not acknowledged, not resolved
	counts             bool      // a root (not folded) alert raised outside maintenance
}

// timeline is what the history says of each device.
type timeline struct {
	down, degraded map[string]spans // by device
	maint          map[string]spans // by target (device:<id>, district:<id>)
	incidents      []*incident
}

// replay reads the history in order into spans and incidents; what is
// still open at to ends at to.
func replay(hist []contract.History, to time.Time) timeline {
	hist = slices.Clone(hist)
	slices.SortStableFunc(hist, func(x, y contract.History) int {
		if c := x.At.Compare(y.At); c != 0 {
			return c
		}
		return cmp.Compare(x.Seq, y.Seq)
	})
	tl := timeline{down: map[string]spans{}, degraded: map[string]spans{}, maint: map[string]spans{}}
	type open struct {
		device string
		since  time.Time
		class  class
		inc    *incident
	}
	active := map[string]*open{}   // by alert id
	last := map[string]*incident{} // each alert's latest incident
	type window struct{ since, until time.Time }
	windows := map[string]*window{}
	closeAlert := func(id string, o *open, at time.Time) {
		switch o.class {
		case down:
			tl.down[o.device] = append(tl.down[o.device], span{o.since, at})
		case degraded:
			tl.degraded[o.device] = append(tl.degraded[o.device], span{o.since, at})
		}
		delete(active, id)
	}
	endWindow := func(target string, w *window, at time.Time) {
		if !w.until.IsZero() && w.until.Before(at) {
			at = w.until
		}
		tl.maint[target] = append(tl.maint[target], span{w.since, at})
		delete(windows, target)
	}
	for i := range hist {
		h := &hist[i]
		if m := h.Maintenance; m != nil {
			switch alert.TransitionKind(h.Transition) {
			case alert.MaintenanceStarted:
				if w, ok := windows[m.Target]; ok {
					w.until = m.Until // extended or shortened while open
					continue
				}
				windows[m.Target] = &window{since: h.At, until: m.Until}
			case alert.MaintenanceEnded:
				if w, ok := windows[m.Target]; ok {
					endWindow(m.Target, w, h.At)
				}
			}
			continue
		}
		a := h.Alert
		if a == nil || a.ID == "" {
			continue
		}
		c := classify(a)
		o := active[a.ID]
		switch kind := alert.TransitionKind(h.Transition); {
		case kind == alert.Cleared || a.State == string(alert.Resolved):
			if o != nil {
				closeAlert(a.ID, o, h.At)
				if o.inc != nil {
					o.inc.end = h.At
				}
			}
		case o == nil:
			// raised, reopened, or the first transition seen of an alert
			// raised before the history read.
			o = &open{device: a.Device, since: h.At, class: c}
			active[a.ID] = o
			if c == ignored {
				continue
			}
			if kind == alert.Reopened && last[a.ID] != nil {
				o.inc = last[a.ID]
				o.inc.end = time.Time{}
				continue
			}
			o.inc = &incident{device: a.Device, district: a.District, raised: h.At,
				counts: kind == alert.Raised && a.Parent == "" && !a.Suppressed}
			tl.incidents = append(tl.incidents, o.inc)
			last[a.ID] = o.inc
			if kind == alert.Acked {
				o.inc.acked = h.At
			}
		case kind == alert.Acked:
			if o.inc != nil && o.inc.acked.IsZero() {
				o.inc.acked = h.At
			}
		}
	}
	for id, o := range active {
		closeAlert(id, o, to)
	}
	for target, w := range windows {
		endWindow(target, w, to)
	}
	for k, v := range tl.down {
		tl.down[k] = norm(v)
	}
	for k, v := range tl.degraded {
		tl.degraded[k] = norm(v)
	}
	for k, v := range tl.maint {
		tl.maint[k] = norm(v)
	}
	return tl
}

// keys are the rows of group g that device d counts in.
func keys(g Group, d *Device, kindOf map[string]string) []string {
	switch g {
	case ByDevice:
		return []string{d.ID}
	case ByDistrict:
		return []string{d.District}
	case ByIntegrator:
		return []string{d.Integrator}
	case ByNVR, ByGateway:
		want := "nvr"
		if g == ByGateway {
			want = "gateway"
		}
		if d.Kind == want {
			return []string{d.ID}
		}
		if d.Parent != "" && kindOf[d.Parent] == want {
			return []string{d.Parent}
		}
	}
	return nil
}

// buckets splits [from, to) at the period's boundaries in loc.
func buckets(from, to time.Time, p Period, loc *time.Location) []span {
	if p == Whole {
		return []span{{from, to}}
	}
	t := from.In(loc)
	start := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	switch p {
	case Week:
		start = start.AddDate(0, 0, -((int(start.Weekday()) + 6) % 7))
	case Month:
		start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
	}
	var out []span
	for start.Before(to) {
		var next time.Time
		switch p {
		case Day:
			next = start.AddDate(0, 0, 1)
		case Week:
			next = start.AddDate(0, 0, 7)
		default:
			next = start.AddDate(0, 1, 0)
		}
		a, b := start, next
		if a.Before(from) {
			a = from
		}
		if b.After(to) {
			b = to
		}
		out = append(out, span{a, b})
		start = next
	}
	return out
}

// Validate checks o.
func (o Options) Validate() error {
	if !o.From.Before(o.To) {
		return errors.New("availability: from must be before to")
	}
	if o.To.Sub(o.From) > MaxRange {
		return fmt.Errorf("availability: range longer than %s", MaxRange)
	}
	if !slices.Contains(Groups, o.Group) {
		return fmt.Errorf("availability: group %q: use device, nvr, gateway, district or integrator", o.Group)
	}
	switch o.Period {
	case Whole, Day, Week, Month:
	default:
		return fmt.Errorf("availability: period %q: use day, week or month", o.Period)
	}
	return nil
}

// Compute reports in's devices over o's range, worst available first.
func Compute(in Input, o Options) (Report, error) {
	if err := o.Validate(); err != nil {
		return Report{}, err
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	tl := replay(in.History, o.To)
	bs := buckets(o.From, o.To, o.Period, o.Location)
	kindOf := make(map[string]string, len(in.Devices))
	for i := range in.Devices {
		kindOf[in.Devices[i].ID] = in.Devices[i].Kind
	}
	type acc struct {
		row          Row
		counted      time.Duration
		unknown      time.Duration
		maint        time.Duration
		down, degr   time.Duration
		ackSum, rSum time.Duration
	}
	rows := map[string][]*acc{} // by key, one per bucket
	var order []string
	row := func(key string) []*acc {
		r, ok := rows[key]
		if !ok {
			if (len(rows)+1)*len(bs) > MaxRows {
				return nil
			}
			name := in.Names[key]
			r = make([]*acc, len(bs))
			for i, b := range bs {
				r[i] = &acc{row: Row{Key: key, Name: name, Start: b.a, End: b.b}}
			}
			rows[key] = r
			order = append(order, key)
		}
		return r
	}
	byDevice := map[string]*Device{}
	districtOf := map[string]bool{}
	for i := range in.Devices {
		d := &in.Devices[i]
		byDevice[d.ID] = d
		districtOf[d.District] = true
		ks := keys(o.Group, d, kindOf)
		if len(ks) == 0 {
			continue
		}
		maint := norm(append(slices.Clone(tl.maint["device:"+d.ID]), tl.maint["district:"+d.District]...))
		first, seen := in.FirstSeen[d.ID]
		for bi, b := range bs {
			if !d.Retired.IsZero() && d.Retired.Before(b.b) {
				if !d.Retired.After(b.a) {
					continue // retired before the bucket: not counted
				}
				b.b = d.Retired
			}
			unknownEnd := b.b
			if seen && first.Before(b.b) {
				unknownEnd = b.a
				if first.After(b.a) {
					unknownEnd = first
				}
			}
			unknown := spans{{b.a, unknownEnd}}
			excluded := norm(append(maint.clip(b.a, b.b), unknown...))
			win := spans{b}.minus(excluded)
			dn := tl.down[d.ID].clip(b.a, b.b).minus(excluded)
			dg := tl.degraded[d.ID].clip(b.a, b.b).minus(norm(append(slices.Clone(excluded), tl.down[d.ID]...)))
			for _, k := range ks {
				r := row(k)
				if r == nil {
					return Report{}, ErrTooManyRows
				}
				a := r[bi]
				a.row.Devices++
				a.counted += win.total()
				a.unknown += unknownEnd.Sub(b.a)
				a.maint += maint.clip(b.a, b.b).minus(unknown).total()
				a.down += dn.total()
				a.degr += dg.total()
			}
		}
	}
	for _, inc := range tl.incidents {
		if !inc.counts {
			continue
		}
		var ks []string
		if id, ok := strings.CutPrefix(inc.device, "district:"); ok {
			if o.Group == ByDistrict && districtOf[id] {
				ks = []string{id}
			}
		} else if d := byDevice[inc.device]; d != nil {
			ks = keys(o.Group, d, kindOf)
		}
		for _, k := range ks {
			r, ok := rows[k]
			if !ok {
				continue
			}
			for bi, b := range bs {
				if inc.raised.Before(b.a) || !inc.raised.Before(b.b) {
					continue
				}
				a := r[bi]
				a.row.Incidents++
				if !inc.acked.IsZero() {
					a.row.Acked++
					a.ackSum += inc.acked.Sub(inc.raised)
				}
				if !inc.end.IsZero() {
					a.row.Restored++
					a.rSum += inc.end.Sub(inc.raised)
				}
			}
		}
	}
	rep := Report{From: o.From, To: o.To, Group: o.Group, Period: o.Period, Rows: []Row{}}
	for _, k := range order {
		for _, a := range rows[k] {
			r := a.row
			r.Counted, r.Unknown, r.Maintenance = seconds(a.counted), seconds(a.unknown), seconds(a.maint)
			r.Down, r.Degraded = seconds(a.down), seconds(a.degr)
			if a.counted > 0 {
				on := 100 * float64(a.counted-a.down) / float64(a.counted)
				av := 100 * float64(a.counted-a.down-a.degr) / float64(a.counted)
				r.Online, r.Available = &on, &av
			}
			if r.Acked > 0 {
				m := seconds(a.ackSum / time.Duration(r.Acked))
				r.MTTA = &m
			}
			if r.Restored > 0 {
				m := seconds(a.rSum / time.Duration(r.Restored))
				r.MTTR = &m
			}
			rep.Rows = append(rep.Rows, r)
		}
	}
	SortWorstFirst(rep.Rows)
	return rep, nil
}

// SortWorstFirst orders rows by availability, lowest first (rows with
// nothing counted last), then by key and bucket.
func SortWorstFirst(rows []Row) {
	slices.SortStableFunc(rows, func(x, y Row) int {
		switch {
		case x.Available == nil && y.Available != nil:
			return 1
		case x.Available != nil && y.Available == nil:
			return -1
		case x.Available != nil && *x.Available != *y.Available:
			return cmp.Compare(*x.Available, *y.Available)
		}
		if c := strings.Compare(x.Key, y.Key); c != 0 {
			return c
		}
		return x.Start.Compare(y.Start)
	})
}

// seconds rounds d to the nearest second.
func seconds(d time.Duration) int64 { return int64(d.Round(time.Second) / time.Second) }
