package availability_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/availability"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/store"
	"github.com/ioc-vn/ioc/internal/store/embedded"
	"github.com/ioc-vn/ioc/internal/store/influx"
	"github.com/ioc-vn/ioc/internal/testenv"
)

var hcm = time.FixedZone("ICT", 7*3600) // Asia/Ho_Chi_Minh has no DST

func at(month time.Month, day, hh, mm int) time.Time {
	return time.Date(2026, month, day, hh, mm, 0, 0, hcm)
}

// Month is the scripted November 2026 (Asia/Ho_Chi_Minh): five devices of
// three integrators in two districts.
var Month = struct {
	Devices []availability.Device
	Names   map[string]string
	First   map[string]time.Time // each device's first message
}{
	Devices: []availability.Device{
		{ID: "nvr-a", Name: "Đầu ghi A", Kind: "nvr", District: "tp-thai-nguyen", Integrator: "vms-tn"},
		{ID: "cam-a1", Name: "Camera A1", Kind: "camera", District: "tp-thai-nguyen", Integrator: "vms-tn", Parent: "nvr-a"},
		{ID: "cam-a2", Name: "Camera A2", Kind: "camera", District: "tp-thai-nguyen", Integrator: "vms-tn", Parent: "nvr-a"},
		{ID: "cam-b1", Name: "Camera B1", Kind: "camera", District: "vo-nhai", Integrator: "vms-vn"},
		{ID: "aq-01", Name: "Quan trắc 01", Kind: "sensor", District: "vo-nhai", Integrator: "envsense"},
	},
	Names: map[string]string{"tp-thai-nguyen": "TP Thái Nguyên", "vo-nhai": "Võ Nhai", "vms-tn": "VMS Thái Nguyên",
		"vms-vn": "VMS Võ Nhai", "envsense": "EnvSense", "nvr-a": "Đầu ghi A", "cam-a1": "Camera A1", "cam-a2": "Camera A2",
		"cam-b1": "Camera B1", "aq-01": "Quan trắc 01"},
	First: map[string]time.Time{
		"nvr-a": at(10, 1, 0, 0), "cam-a1": at(10, 1, 0, 0), "cam-a2": at(10, 1, 0, 0), "aq-01": at(10, 1, 0, 0),
		"cam-b1": at(11, 11, 0, 0), // commissioned: its first message ten days into the month
	},
}

// MonthHistory is the month's alert and maintenance history, as the alert
// service writes it:
//   - nvr-a: recorder-disk-full (major) from 31 Oct 22:00 to 1 Nov 01:00
//     (an hour degraded inside the month, the incident counted in October);
//   - nvr-a offline 3 Nov 10:00, acknowledged 10:05, resolved 12:00, its
//     cameras' offline alerts folded under it (acknowledged through it);
//   - cam-a1 signal lost (critical) 10 Nov 08:00, acknowledged 08:20,
//     resolved 09:00; cam-a2 low frame rate (minor, not counted) 12 Nov;
//   - cam-a2 flapping 15 Nov: offline 00:00–00:10, reopened 00:15–00:45,
//     never acknowledged: one incident of 45 minutes, 40 minutes down;
//   - district vo-nhai in maintenance 20 Nov 08:00–18:00, cam-b1 offline
//     inside it (suppressed) 09:00–10:00;
//   - cam-b1 offline 25 Nov 06:00, acknowledged 06:30, resolved 12:00;
//   - cam-a1 in maintenance 28 Nov 00:00 until 04:00, the end recorded
//     at 06:00 (the alert service was down at 04:00).
func MonthHistory() []contract.History {
	var out []contract.History
	seq := uint64(0)
	type al struct {
		rule, kind, sev, dev, district, parent string
	}
	add := func(a al, t time.Time, transition, by string, suppressed bool) {
		seq++
		state := "active"
		if transition == "resolved" {
			state = "resolved"
		}
		out = append(out, contract.History{At: t, Transition: transition, Seq: seq, By: by, Alert: &contract.AlertHistory{
			ID: a.rule + "/" + a.dev, Device: a.dev, District: a.district, Rule: a.rule, RuleKind: a.kind, Severity: a.sev,
			State: state, Parent: a.parent, Count: 1, Suppressed: suppressed}})
	}
	maint := func(t time.Time, transition, target string, until time.Time) {
		seq++
		out = append(out, contract.History{At: t, Transition: transition, Seq: seq, By: "truc-ban",
			Maintenance: &contract.MaintenanceHistory{Target: target, Until: until, Since: t}})
	}
	disk := al{"recorder-disk-full", "threshold", "major", "nvr-a", "tp-thai-nguyen", ""}
	add(disk, at(10, 31, 22, 0), "raised", "", false)
	add(disk, at(11, 1, 1, 0), "resolved", "", false)

	nvr := al{"device-offline", "silence", "critical", "nvr-a", "tp-thai-nguyen", ""}
	a1 := al{"device-offline", "silence", "critical", "cam-a1", "tp-thai-nguyen", "device-offline/nvr-a"}
	a2 := al{"device-offline", "silence", "critical", "cam-a2", "tp-thai-nguyen", "device-offline/nvr-a"}
	for _, a := range []al{nvr, a1, a2} {
		add(a, at(11, 3, 10, 0), "raised", "", false)
	}
	for _, a := range []al{nvr, a1, a2} {
		add(a, at(11, 3, 10, 5), "acked", "van-hanh-1", false)
	}
	for _, a := range []al{a2, a1, nvr} {
		add(a, at(11, 3, 12, 0), "resolved", "", false)
	}

	sig := al{"camera-signal-lost", "threshold", "critical", "cam-a1", "tp-thai-nguyen", ""}
	add(sig, at(11, 10, 8, 0), "raised", "", false)
	add(sig, at(11, 10, 8, 20), "acked", "van-hanh-2", false)
	add(sig, at(11, 10, 9, 0), "resolved", "ky-thuat-1", false)

	fps := al{"camera-low-fps", "threshold", "minor", "cam-a2", "tp-thai-nguyen", ""}
	add(fps, at(11, 12, 14, 0), "raised", "", false)
	add(fps, at(11, 12, 15, 0), "resolved", "", false)

	flap := al{"device-offline", "silence", "critical", "cam-a2", "tp-thai-nguyen", ""}
	add(flap, at(11, 15, 0, 0), "raised", "", false)
	add(flap, at(11, 15, 0, 10), "resolved", "", false)
	add(flap, at(11, 15, 0, 15), "reopened", "", false)
	add(flap, at(11, 15, 0, 30), "renotified", "", false)
	add(flap, at(11, 15, 0, 45), "resolved", "", false)

	maint(at(11, 20, 8, 0), "maintenance_started", "district:vo-nhai", time.Time{})
	b1 := al{"device-offline", "silence", "critical", "cam-b1", "vo-nhai", ""}
	add(b1, at(11, 20, 9, 0), "raised", "", true)
	add(b1, at(11, 20, 10, 0), "resolved", "", true)
	maint(at(11, 20, 18, 0), "maintenance_ended", "district:vo-nhai", time.Time{})

	add(b1, at(11, 25, 6, 0), "raised", "", false)
	add(b1, at(11, 25, 6, 30), "acked", "van-hanh-1", false)
	add(b1, at(11, 25, 12, 0), "resolved", "", false)

	maint(at(11, 28, 0, 0), "maintenance_started", "device:cam-a1", at(11, 28, 4, 0))
	maint(at(11, 28, 6, 0), "maintenance_ended", "device:cam-a1", at(11, 28, 4, 0))
	return out
}

// replayMonth writes the month into s: a status message at each device's
// first message and every hour of the month after it, and the history.
func replayMonth(t *testing.T, s store.Store) {
	t.Helper()
	var pts []point.Point
	for _, d := range Month.Devices {
		for ts := Month.First[d.ID]; ts.Before(at(12, 1, 0, 0)); ts = ts.Add(time.Hour) {
			p := point.Point{Measurement: "status", Time: ts, Fields: []point.Field{point.StringField("state", "online")}}
			p.SetTag("device", d.ID)
			p.SetTag("district", d.District)
			p.SetTag("integrator", d.Integrator)
			p.SetTag("kind", d.Kind)
			pts = append(pts, p)
		}
	}
	for _, h := range MonthHistory() {
		pts = append(pts, h.Point())
	}
	for len(pts) > 0 {
		n := min(len(pts), 2000)
		if err := s.Write(context.Background(), pts[:n]); err != nil {
			t.Fatalf("write: %v", err)
		}
		pts = pts[n:]
	}
}

func report(t *testing.T, s store.Store, g availability.Group, p availability.Period) availability.Report {
	t.Helper()
	from, to := at(11, 1, 0, 0), at(12, 1, 0, 0)
	in, err := availability.Load(context.Background(), s, from, to)
	if err != nil {
		t.Fatal(err)
	}
	in.Devices, in.Names = Month.Devices, Month.Names
	rep, err := availability.Compute(in, availability.Options{From: from, To: to, Group: g, Period: p, Location: hcm})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// want is a row's expected numbers, in seconds; percentages as printed
// with four decimals; MTTA and MTTR -1 when there are none.
type want struct {
	key                                     string
	counted, unknown, maint, down, degraded int64
	online, available                       string
	incidents, acked, restored, mtta, mttr  int64
}

func got(r availability.Row) want {
	pct := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprintf("%.4f", *p)
	}
	sec := func(p *int64) int64 {
		if p == nil {
			return -1
		}
		return *p
	}
	return want{r.Key, r.Counted, r.Unknown, r.Maintenance, r.Down, r.Degraded, pct(r.Online), pct(r.Available),
		int64(r.Incidents), int64(r.Acked), int64(r.Restored), sec(r.MTTA), sec(r.MTTR)}
}

// monthWant are the month's rows per group, worst first. November has
// 2,592,000 s.
var monthWant = map[availability.Group][]want{
	availability.ByDevice: {
		// cam-b1: ten days unknown (before its first message), ten hours of
		// district maintenance (its suppressed outage inside), six hours down.
		{"cam-b1", 1692000, 864000, 36000, 21600, 0, "98.7234", "98.7234", 1, 1, 1, 1800, 21600},
		// cam-a1: folded under the recorder (no incident of its own), an hour
		// without signal, four hours of maintenance (to its until, not 06:00).
		{"cam-a1", 2577600, 0, 14400, 7200, 3600, "99.7207", "99.5810", 1, 1, 1, 1200, 3600},
		// nvr-a: two hours offline, the disk alert's first hour of November.
		{"nvr-a", 2592000, 0, 0, 7200, 3600, "99.7222", "99.5833", 1, 1, 1, 300, 7200},
		// cam-a2: folded, then flapping: 40 minutes down, the minor alert not
		// counted; the flap is one incident of 45 minutes.
		{"cam-a2", 2592000, 0, 0, 9600, 0, "99.6296", "99.6296", 1, 0, 1, -1, 2700},
		{"aq-01", 2556000, 0, 36000, 0, 0, "100.0000", "100.0000", 0, 0, 0, -1, -1},
	},
	availability.ByIntegrator: {
		{"vms-vn", 1692000, 864000, 36000, 21600, 0, "98.7234", "98.7234", 1, 1, 1, 1800, 21600},
		{"vms-tn", 7761600, 0, 14400, 24000, 7200, "99.6908", "99.5980", 3, 2, 3, 750, 4500},
		{"envsense", 2556000, 0, 36000, 0, 0, "100.0000", "100.0000", 0, 0, 0, -1, -1},
	},
	availability.ByDistrict: {
		{"vo-nhai", 4248000, 864000, 72000, 21600, 0, "99.4915", "99.4915", 1, 1, 1, 1800, 21600},
		{"tp-thai-nguyen", 7761600, 0, 14400, 24000, 7200, "99.6908", "99.5980", 3, 2, 3, 750, 4500},
	},
	availability.ByNVR: {
		{"nvr-a", 7761600, 0, 14400, 24000, 7200, "99.6908", "99.5980", 3, 2, 3, 750, 4500},
	},
}

// TestScriptedMonth replays the month into InfluxDB 1.8 and the embedded
// store: both give the same report, and it is the one worked out by hand
// above, to the second.
func TestScriptedMonth(t *testing.T) {
	emb, err := embedded.Open(context.Background(), filepath.Join(t.TempDir(), "ioc.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emb.Close() })
	srv := testenv.StartInflux(t)
	srv.InfluxQL(t, "CREATE DATABASE month")
	inf, err := influx.New(influx.Config{URL: srv.URL, Database: "month"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inf.Close() })
	stores := map[string]store.Store{"embedded": emb, "influx": inf}
	for _, s := range stores {
		replayMonth(t, s)
	}
	for g, rows := range monthWant {
		reports := map[string]availability.Report{}
		for name, s := range stores {
			rep := report(t, s, g, availability.Whole)
			reports[name] = rep
			var gotRows []want
			for _, r := range rep.Rows {
				gotRows = append(gotRows, got(r))
			}
			if !reflect.DeepEqual(gotRows, rows) {
				t.Errorf("%s, by %s:\n got %+v\nwant %+v", name, g, gotRows, rows)
			}
		}
		if !reflect.DeepEqual(reports["embedded"], reports["influx"]) {
			t.Errorf("by %s: the stores disagree:\nembedded %+v\ninflux   %+v", g, reports["embedded"], reports["influx"])
		}
	}

	// Per day: 3 November holds the recorder's outage; per week (Monday
	// 2 November to 9 November), the week's share.
	day := report(t, emb, availability.ByDevice, availability.Day)
	if n := len(day.Rows); n != 5*30 {
		t.Fatalf("per day: %d rows, want 150", n)
	}
	for _, r := range day.Rows {
		if r.Key == "nvr-a" && r.Start.Equal(at(11, 3, 0, 0)) {
			if w := (want{"nvr-a", 86400, 0, 0, 7200, 0, "91.6667", "91.6667", 1, 1, 1, 300, 7200}); got(r) != w {
				t.Fatalf("nvr-a on 3 November:\n got %+v\nwant %+v", got(r), w)
			}
		}
	}
	if worst := day.Rows[0]; worst.Key != "cam-b1" || !worst.Start.Equal(at(11, 25, 0, 0)) {
		t.Fatalf("worst day: %s %v, want cam-b1 on 25 November", worst.Key, worst.Start)
	}
	week := report(t, inf, availability.ByIntegrator, availability.Week)
	for _, r := range week.Rows {
		if r.Key == "vms-tn" && r.Start.Equal(at(11, 2, 0, 0)) {
			if !r.End.Equal(at(11, 9, 0, 0)) {
				t.Fatalf("week of 2 November ends %v", r.End)
			}
			if w := (want{"vms-tn", 3 * 604800, 0, 0, 3 * 7200, 0, "98.8095", "98.8095", 1, 1, 1, 300, 7200}); got(r) != w {
				t.Fatalf("vms-tn, week of 2 November:\n got %+v\nwant %+v", got(r), w)
			}
		}
		if r.Start.Before(at(11, 1, 0, 0)) || r.End.After(at(12, 1, 0, 0)) {
			t.Fatalf("a week row outside the range: %v – %v", r.Start, r.End)
		}
	}
}
