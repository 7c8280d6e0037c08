package iocd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/store/embedded"
)

// writeNovember writes a scripted November 2026 into the embedded store
// at path: nvr-bvtw, two of its cameras and an air-quality sensor report
// from October on; the recorder is offline 3 Nov 10:00–12:00 (+07:00),
// acknowledged at 10:05, its cameras folded under it; the sensor never
// fails. Every other device never reports (unknown).
func writeNovember(t *testing.T, path string, reg *registry.Registry) {
	t.Helper()
	s, err := embedded.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hcm := time.FixedZone("ICT", 7*3600)
	at := func(m time.Month, d, h, min int) time.Time { return time.Date(2026, m, d, h, min, 0, 0, hcm) }
	var pts []point.Point
	for _, id := range []string{"nvr-bvtw", "cam-bvtw-01", "cam-bvtw-02", "aq-tp-01"} {
		d, ok := reg.Device(id)
		if !ok {
			t.Fatalf("%s is not in configs/devices.yaml", id)
		}
		pts = append(pts, point.Point{Measurement: "status", Tags: d.Tags(), Time: at(10, 1, 0, 0),
			Fields: []point.Field{point.StringField("state", "online")}})
	}
	seq := uint64(0)
	for _, step := range []struct {
		at         time.Time
		transition string
	}{{at(11, 3, 10, 0), "raised"}, {at(11, 3, 10, 5), "acked"}, {at(11, 3, 12, 0), "resolved"}} {
		for _, dev := range []string{"nvr-bvtw", "cam-bvtw-01", "cam-bvtw-02"} {
			seq++
			parent, state, by := "", "active", ""
			if dev != "nvr-bvtw" {
				parent = "device-offline/nvr-bvtw"
			}
			if step.transition == "resolved" {
				state = "resolved"
			}
			if step.transition == "acked" {
				by = "operator"
			}
			h := contract.History{At: step.at, Transition: step.transition, Seq: seq, By: by, Alert: &contract.AlertHistory{
				ID: "device-offline/" + dev, Device: dev, District: "tp-thai-nguyen", Rule: "device-offline", RuleKind: "silence",
				Severity: "critical", State: state, Parent: parent, Count: 1}}
			pts = append(pts, h.Point())
		}
	}
	if err := s.Write(context.Background(), pts); err != nil {
		t.Fatal(err)
	}
}

// startNovember starts ingest and an IOC server reading the scripted
// November (writeNovember) from its embedded store.
func startNovember(t *testing.T, name string) (base string, reg *registry.Registry) {
	t.Helper()
	reg, err := registry.Load(configs + "devices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := iocConfig(t, startIngest(t), name)
	c.EmbeddedStore = filepath.Join(t.TempDir(), "history.db")
	writeNovember(t, c.EmbeddedStore, reg)
	return startIOC(t, c), reg
}

// TestAvailabilityReport: the scripted November through the API (JSON and
// CSV) and on the report page in Chromium: vms-tn's three reporting
// devices lost two hours each (99,72 %), acknowledged in 5 minutes and
// restored in 2 hours; the rows come worst first, districts without
// data last; the Vietnamese page shows no English and no raw id; a
// technician may not read the report.
func TestAvailabilityReport(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	base, reg := startNovember(t, "availability")

	const month = "from=2026-11-01T00:00:00%2B07:00&to=2026-12-01T00:00:00%2B07:00"
	op := login(t, base, "operator")
	var rep struct {
		Rows []struct {
			Key       string   `json:"key"`
			Counted   int64    `json:"counted_s"`
			Down      int64    `json:"down_s"`
			Available *float64 `json:"available_pct"`
			Incidents int      `json:"incidents"`
			MTTA      *int64   `json:"mtta_s"`
			MTTR      *int64   `json:"mttr_s"`
		} `json:"rows"`
	}
	op.get("/api/v1/availability?group=integrator&"+month, &rep)
	if len(rep.Rows) != 2 || rep.Rows[0].Key != "vms-tn" || rep.Rows[1].Key != "envsense" {
		t.Fatalf("integrator rows, worst first: %+v", rep.Rows)
	}
	vms := rep.Rows[0]
	if vms.Counted != 3*2592000 || vms.Down != 3*7200 || vms.Incidents != 1 || vms.MTTA == nil || *vms.MTTA != 300 || vms.MTTR == nil || *vms.MTTR != 7200 {
		t.Fatalf("vms-tn: %+v", vms)
	}
	op.get("/api/v1/availability?group=district&"+month, &rep)
	if n := len(rep.Rows); n < 2 || rep.Rows[0].Key != "tp-thai-nguyen" || rep.Rows[n-1].Available != nil {
		t.Fatalf("district rows: the one with data first, those that never reported (null) last: %+v", rep.Rows)
	}

	req, _ := http.NewRequest("GET", base+"/api/v1/availability?format=csv&group=integrator&"+month, nil)
	r, err := op.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var csv bytes.Buffer
	_, _ = csv.ReadFrom(r.Body)
	r.Body.Close()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("CSV content type %q", ct)
	}
	lines := strings.Split(csv.String(), "\n")
	if !strings.HasPrefix(lines[0], "\uFEFFkey,name,") || !strings.HasPrefix(lines[1], "vms-tn,Hệ thống VMS Thái Nguyên,2026-11-01T00:00:00+07:00,") ||
		!strings.Contains(lines[1], ",99.7222,99.7222,1,1,1,300,7200") {
		t.Fatalf("CSV:\n%s", csv.String())
	}

	tech := login(t, base, "technician")
	if status, body := tech.do("GET", "/api/v1/availability?"+month, nil); status != http.StatusForbidden {
		t.Fatalf("technician: %d %s", status, body)
	}

	ctx := chrome(t, 1600, 1000)
	loginPage(t, ctx, base, "operator", url.QueryEscape("/reports/?month=2026-11&group=integrator"), `body[data-loaded="2026-11/integrator"]`)
	var cells [][]string
	run(t, ctx, 10*time.Second, chromedp.Evaluate(`[...document.querySelectorAll("#rows tr")].map(tr => [...tr.cells].map(td => td.textContent))`, &cells))
	if len(cells) != 2 {
		t.Fatalf("page rows: %q", cells)
	}
	// name, devices, available, online, down, degraded, maintenance,
	// unknown, incidents, MTTA, MTTR
	if got := strings.Join(cells[0], " | "); cells[0][0] != "Hệ thống VMS Thái Nguyên" || cells[0][2] != "99,72 %" || cells[0][3] != "99,72 %" ||
		cells[0][4] != "6 giờ 0 phút" || cells[0][8] != "1" || cells[0][9] != "5 phút 0 giây" || cells[0][10] != "2 giờ 0 phút" {
		t.Fatalf("first row: %s", got)
	}
	if cells[1][0] != "Quan trắc môi trường Thái Nguyên" || cells[1][2] != "100,00 %" {
		t.Fatalf("rows: %q", cells)
	}
	var text string
	run(t, ctx, 10*time.Second, chromedp.Evaluate(`document.body.innerText`, &text))
	if !strings.Contains(text, "Báo cáo khả dụng tháng 11/2026") {
		t.Fatalf("heading missing:\n%s", text)
	}
	raw := []string{"district:", "operator", "technician"}
	for _, d := range reg.Devices() {
		raw = append(raw, d.ID)
	}
	for _, d := range reg.Districts() {
		raw = append(raw, d.ID)
	}
	raw = append(raw, "vms-tn", "envsense", "smartcity-tn")
	var province struct{ People map[string]string }
	op.get("/api/v1/province", &province)
	var dict map[string]map[string]string
	var js string
	run(t, ctx, 5*time.Second, chromedp.Evaluate(`JSON.stringify(IOCDict)`, &js))
	if err := json.Unmarshal([]byte(js), &dict); err != nil {
		t.Fatal(err)
	}
	if l := leaks(text, "vi", dict, reg, province.People, raw); len(l) > 0 {
		t.Fatalf("the Vietnamese report shows %v:\n%s", l, text)
	}
	screenshot(t, ctx, "availability-report")
	var href string
	run(t, ctx, 10*time.Second, chromedp.Evaluate(`document.getElementById("csv").href`, &href))
	if !strings.Contains(href, "format=csv") || !strings.Contains(href, "group=integrator") {
		t.Fatalf("CSV link %s", href)
	}
}
