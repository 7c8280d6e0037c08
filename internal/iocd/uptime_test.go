package iocd_test

import (
	"context"
	"encoding/json"
	"github.com/chromedp/cdproto/page"
	"math"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/store/embedded"
)

// writeToday writes into the embedded store at path a recorder and two of
// its cameras in TP. Thái Nguyên that report from yesterday on and are
// offline today from a quarter to half of the time since midnight in
// Vietnam, and an air-quality sensor in Định Hóa that never fails.
func writeToday(t *testing.T, path string, reg *registry.Registry, now time.Time) {
	t.Helper()
	s, err := embedded.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hcm := time.FixedZone("ICT", 7*3600)
	y, m, d := now.In(hcm).Date()
	midnight := time.Date(y, m, d, 0, 0, 0, 0, hcm)
	since := now.Sub(midnight)
	var pts []point.Point
	for _, id := range []string{"nvr-bvtw", "cam-bvtw-01", "cam-bvtw-02", "aq-dinhhoa-01"} {
		dev, ok := reg.Device(id)
		if !ok {
			t.Fatalf("%s is not in configs/devices.yaml", id)
		}
		pts = append(pts, point.Point{Measurement: "status", Tags: dev.Tags(), Time: midnight.Add(-24 * time.Hour),
			Fields: []point.Field{point.StringField("state", "online")}})
	}
	seq := uint64(0)
	for _, step := range []struct {
		at         time.Time
		transition string
	}{{midnight.Add(since / 4), "raised"}, {midnight.Add(since / 2), "resolved"}} {
		for _, dev := range []string{"nvr-bvtw", "cam-bvtw-01", "cam-bvtw-02"} {
			seq++
			parent, state := "", "active"
			if dev != "nvr-bvtw" {
				parent = "device-offline/nvr-bvtw"
			}
			if step.transition == "resolved" {
				state = "resolved"
			}
			h := contract.History{At: step.at, Transition: step.transition, Seq: seq, Alert: &contract.AlertHistory{
				ID: "device-offline/" + dev, Device: dev, District: "tp-thai-nguyen", Rule: "device-offline", RuleKind: "silence",
				Severity: "critical", State: state, Parent: parent, Count: 1}}
			pts = append(pts, h.Point())
		}
	}
	if err := s.Write(context.Background(), pts); err != nil {
		t.Fatal(err)
	}
}

// viPct is the report's percentage in Vietnamese: rounded down to two
// decimals, a decimal comma, " %".
func viPct(v *float64) string {
	if v == nil {
		return "—"
	}
	return strings.Replace(strconv.FormatFloat(math.Floor(*v*100)/100, 'f', 2, 64), ".", ",", 1) + " %"
}

// TestWallUptimeToday: the wall's district table says each district's
// uptime today, and the numbers are the availability API's for the same
// range, as the report page writes them: TP. Thái Nguyên's recorder and
// cameras were offline for a quarter of the day so far (below 100 %),
// Định Hóa's sensor never failed (100,00 %), districts with nothing
// counted say "—". A viewer's wall shows it (a viewer may read the
// per-district report, and nothing more).
func TestWallUptimeToday(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	reg, err := registry.Load(configs + "devices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sys := startIngest(t)
	c := iocConfig(t, sys, "uptime")
	c.EmbeddedStore = filepath.Join(t.TempDir(), "history.db")
	writeToday(t, c.EmbeddedStore, reg, time.Now())
	base := startIOC(t, c)

	viewer := login(t, base, "viewer")
	for _, q := range []string{"group=device", "group=district&format=csv"} {
		if status, _ := viewer.do("GET", "/api/v1/availability?"+q, nil); status != http.StatusForbidden {
			t.Errorf("a viewer's availability?%s: %d; want 403", q, status)
		}
	}

	wall := chrome(t, 3840, 2160)
	installTestClock(t, wall)
	// Count the page's requests for the uptime (a test's instrument).
	run(t, wall, 10*time.Second, chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := page.AddScriptToEvaluateOnNewDocument(`window.uptimeFetches = 0; { const f = window.fetch; window.fetch = (u, ...rest) => { if (String(u).includes("/api/v1/availability")) window.uptimeFetches++; return f(u, ...rest); }; }`).Do(ctx)
		return err
	}))
	loginPage(t, wall, base, "viewer", "/wall/", `body[data-connected="yes"]`)
	var js string
	run(t, wall, 20*time.Second, chromedp.WaitVisible(`#districts[data-uptime-to] td.uptime`), chromedp.Evaluate(`JSON.stringify({
		from: document.querySelector("#districts").dataset.uptimeFrom, to: document.querySelector("#districts").dataset.uptimeTo,
		head: document.querySelector("#districts th.uptime").textContent,
		rows: Object.fromEntries([...document.querySelectorAll("#districts tr[data-district]")].map((r) => [r.dataset.district, r.querySelector("td.uptime").textContent]))})`, &js))
	var shown struct {
		From, To, Head string
		Rows           map[string]string
	}
	if err := json.Unmarshal([]byte(js), &shown); err != nil {
		t.Fatal(err)
	}
	if shown.Head != "Hoạt động hôm nay" || !strings.HasSuffix(shown.From, "T00:00:00+07:00") {
		t.Errorf("uptime column %q from %s", shown.Head, shown.From)
	}
	var rep struct {
		Rows []struct {
			Key    string   `json:"key"`
			Online *float64 `json:"online_pct"`
		} `json:"rows"`
	}
	viewer.get("/api/v1/availability?"+url.Values{"group": {"district"}, "from": {shown.From}, "to": {shown.To}}.Encode(), &rep)
	if len(rep.Rows) != len(reg.Districts()) {
		t.Fatalf("the API has %d district rows; the registry %d districts", len(rep.Rows), len(reg.Districts()))
	}
	for _, r := range rep.Rows {
		if got, want := shown.Rows[r.Key], viPct(r.Online); got != want {
			t.Errorf("%s: the wall says %q, the API %q", r.Key, got, want)
		}
	}
	got := shown.Rows["tp-thai-nguyen"]
	if v, err := strconv.ParseFloat(strings.Replace(strings.TrimSuffix(got, " %"), ",", ".", 1), 64); err != nil || v < 74.9 || v > 80 {
		t.Errorf("TP. Thái Nguyên, its reporting devices offline a quarter of the day so far: %q; want about 75 %%", got)
	}
	if got := shown.Rows["dinh-hoa"]; got != "100,00 %" {
		t.Errorf("Định Hóa, never down: %q", got)
	}
	screenshot(t, wall, "wall-3840x2160-uptime")

	// Fetched again at the next half-minute turn when a district's offline
	// count changed, and a minute after the last time otherwise. (The test
	// clock runs every due timer at the advanced time: after 60 s the last
	// fetch was at +60 s.)
	fetches := func() int { return count(t, wall, `window.uptimeFetches`) }
	advance := func() { run(t, wall, 5*time.Second, chromedp.Evaluate(`iocTestClock.advance(30000)`, nil)) }
	run(t, wall, 5*time.Second, chromedp.Evaluate(`iocTestClock.advance(60000)`, nil))
	n := fetches()
	integrator(t, sys, "envsense")("aq-dinhhoa-01", "status", `{"state":"offline"}`)
	run(t, wall, 20*time.Second, chromedp.WaitVisible(`#districts tr[data-district="dinh-hoa"] td.down`))
	advance() // +90 s: 30 s after the last fetch, Định Hóa's count changed
	if got := fetches(); got != n+1 {
		t.Errorf("Định Hóa's sensor went offline: the uptime was fetched %d times at the next half-minute turn; want once", got-n)
	}
	advance() // +120 s: 30 s after, nothing changed
	if got := fetches(); got != n+1 {
		t.Errorf("the uptime was fetched again %d times 30 s after the last, with nothing changed; want none", got-n-1)
	}
	advance() // +150 s: a minute after
	if got := fetches(); got != n+2 {
		t.Errorf("the uptime was fetched %d times a minute after the last; want once", got-n-1)
	}
}
