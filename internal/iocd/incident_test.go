package iocd_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// wallAtIncident is what the 4K wall shows of the map, the recorders and
// the feed, measured in the page.
type wallAtIncident struct {
	Screen struct{ W, H float64 }
	Map    struct {
		W, H, ColH float64 // the map, and the column it is in
		Polygons   int
		Overlap    float64 // legend area over the districts' bounding box
		Legend     float64 // legend area
		Inside     bool    // the legend lies within the map
	}
	Groups []struct {
		NVR, Head string
		States    []string
	}
	Rows []struct {
		ID, What, Place, Text string
		Clipped               bool
	}
	Folded    map[string]int            // root-cause alert -> open alerts under it, at any depth
	Districts struct{ Rows, Shown int } // district table rows, and those whole in view
}

// TestWallDuringIncidents: the simulated province (722 devices) on a
// 3840×2160 wall while a recorder is out with its cameras, a district has
// lost power, every camera of another recorder is tampered with and a
// sensor reads out of range:
//   - the map keeps a usable share of the wall (at least a quarter of its
//     width and most of its column's height), its legend inside it and off
//     the districts;
//   - no recorder shows a green ✓ while any of its cameras has a problem:
//     its row shows the worst of itself and its cameras;
//   - every alert row shows what happened whole; truncation eats the place.
func TestWallDuringIncidents(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	province := configs + "province.yaml"
	sys := startIngest(t, func(c *ingestd.Config) { c.Registry = province })
	ic := iocConfig(t, sys, "incident")
	ic.Registry = province
	base := startIOC(t, ic)
	reg, err := registry.Load(province)
	if err != nil {
		t.Fatal(err)
	}
	pub := map[string]func(device, channel, body string){}
	for _, d := range reg.Devices() {
		if _, ok := pub[d.Integrator]; !ok && d.Integrator != "" {
			pub[d.Integrator] = integrator(t, sys, d.Integrator)
		}
	}
	for _, d := range reg.Devices() {
		if d.Kind == registry.Camera || d.Kind == registry.NVR {
			pub[d.Integrator](d.ID, "status", `{"state":"online","recording":true}`)
		}
	}
	wall := chrome(t, 3840, 2160)
	installTestClock(t, wall) // the camera pages turn when the test says
	loginPage(t, wall, base, "operator", "/wall/", `body[data-connected="yes"]`)
	testenv.Eventually(t, 30*time.Second, func() error {
		if n := count(t, wall, `(() => { const e = document.querySelector('#summary .tile[data-kind="camera"]'); return e && e.dataset.online === e.dataset.total ? 1 : 0 })()`); n != 1 {
			return fmt.Errorf("cameras not all online on the wall")
		}
		return nil
	})

	// The incidents. The recorder out with its cameras; the power cut in
	// Phú Lương; every camera of the recorder with the longest camera
	// names tampered with, the recorder itself online; image problems on
	// another; a sensor out of range.
	const outNVR, cutDistrict = "nvr-kcn-donghy-2", "phu-luong"
	tamperedNVR, longest := "", 0
	for _, d := range reg.Devices() {
		if d.Kind == registry.Camera && d.District != cutDistrict && d.Parent != outNVR && len([]rune(d.Name)) > longest {
			tamperedNVR, longest = d.Parent, len([]rune(d.Name))
		}
	}
	// A second recorder's cameras report image problems (major), so that
	// the feed is full.
	blurredNVR := ""
	for _, d := range reg.Devices() {
		if d.Kind == registry.NVR && d.ID != outNVR && d.ID != tamperedNVR && d.District != cutDistrict {
			blurredNVR = d.ID
			break
		}
	}
	var tampered []string
	for _, d := range reg.Devices() {
		switch {
		case d.ID == outNVR || d.Parent == outNVR || d.District == cutDistrict:
			pub[d.Integrator](d.ID, "status", `{"state":"offline"}`)
		case d.Parent == tamperedNVR && d.Kind == registry.Camera:
			pub[d.Integrator](d.ID, "event", `{"type":"tamper","zone":"ống kính"}`)
			tampered = append(tampered, d.ID)
		case d.Parent == blurredNVR && d.Kind == registry.Camera:
			pub[d.Integrator](d.ID, "event", `{"type":"blur"}`)
		}
	}
	pub["envsense"]("aq-tp-02", "telemetry", `{"pm25":1500}`)
	for _, id := range []string{"device-offline/" + outNVR, "device-offline/district:" + cutDistrict, "camera-tamper/" + tampered[len(tampered)-1], "pm25-out-of-range/aq-tp-02"} {
		var ok bool
		if err := chromedp.Run(wall, chromedp.Poll(`window.iocLive.alerts.has("`+id+`")`, &ok, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			t.Fatalf("alert %s not on the wall: %v", id, err)
		}
	}
	run(t, wall, 10*time.Second, chromedp.WaitVisible(`#banner`), chromedp.WaitVisible(`#feed-more`))
	// Let the last deltas land and the map (drawn at most once a second)
	// catch up: every tampered camera in alarm on the grid, the map's
	// markers in their states.
	testenv.Eventually(t, 20*time.Second, func() error {
		n := count(t, wall, `[...window.iocLive.devices.values()].filter((d) => d.parent === "`+tamperedNVR+`" && d.severity === "critical").length`)
		if n != len(tampered) {
			return fmt.Errorf("%d of %d tampered cameras of %s in alarm on the wall", n, len(tampered), tamperedNVR)
		}
		return nil
	})
	run(t, wall, 10*time.Second, chromedp.Evaluate(`window.iocWall.render()`, nil))
	run(t, wall, 10*time.Second, chromedp.Evaluate(`window.iocWall.renderMap()`, nil))

	var js string
	run(t, wall, 10*time.Second, chromedp.Evaluate(`(() => {
		const r = (e) => e.getBoundingClientRect();
		const m = document.querySelector("#map"), mr = r(m), col = r(m.closest(".left") || m.parentElement);
		const polys = [...m.querySelectorAll("path.district-area")].map(r).filter((b) => b.width > 0);
		const box = polys.reduce((a, b) => ({left: Math.min(a.left, b.left), top: Math.min(a.top, b.top), right: Math.max(a.right, b.right), bottom: Math.max(a.bottom, b.bottom)}),
			{left: Infinity, top: Infinity, right: -Infinity, bottom: -Infinity});
		const lg = r(m.querySelector(".map-legend"));
		const ow = Math.max(0, Math.min(lg.right, box.right) - Math.max(lg.left, box.left));
		const oh = Math.max(0, Math.min(lg.bottom, box.bottom) - Math.max(lg.top, box.top));
		const inside = lg.left >= mr.left - 1 && lg.right <= mr.right + 1 && lg.top >= mr.top - 1 && lg.bottom <= mr.bottom + 1;
		const rows = [...document.querySelectorAll("#feed li.alert")].map((li) => {
			const w = li.querySelector(".msg"), p = li.querySelector(".place");
			return {id: li.dataset.alert, what: w.textContent, place: p ? p.textContent : "", text: li.innerText,
				clipped: w.scrollWidth > w.clientWidth + 1 || r(w).right > r(li).right + 1};
		});
		return JSON.stringify({screen: {w: innerWidth, h: innerHeight},
			map: {w: mr.width, h: mr.height, colh: col.height, polygons: polys.length, overlap: ow * oh, legend: lg.width * lg.height, inside},
			districts: (() => {
				const p = r(document.querySelector(".districts-panel")), trs = [...document.querySelectorAll("#districts tr[data-district]")];
				return {rows: trs.length, shown: trs.filter((tr) => { const b = r(tr); return b.top >= p.top - 1 && b.bottom <= p.bottom + 1; }).length};
			})(),
			rows, folded: (() => {
				const out = {}, all = window.iocLive.alerts;
				for (const a of all.values()) {
					if (!a.parent || !all.has(a.parent)) continue;
					let r = all.get(a.parent);
					while (r.parent && all.has(r.parent)) r = all.get(r.parent);
					out[r.id] = (out[r.id] || 0) + 1;
				}
				return out;
			})()});
	})()`, &js))
	var got wallAtIncident
	if err := json.Unmarshal([]byte(js), &got); err != nil {
		t.Fatal(err)
	}
	// The recorders, page by page.
	pages := count(t, wall, `+document.querySelector("#cams").dataset.pages`)
	for p := 0; p < pages; p++ {
		var gs []struct {
			NVR, Head string
			States    []string
		}
		run(t, wall, 10*time.Second, chromedp.Evaluate(`JSON.stringify([...document.querySelectorAll("#cams .nvr")].map((g) => ({nvr: g.dataset.nvr,
			head: g.querySelector(".nvr-head .state").textContent, states: [...g.querySelectorAll(".cam")].map((c) => c.dataset.state)})))`, &js))
		if err := json.Unmarshal([]byte(js), &gs); err != nil {
			t.Fatal(err)
		}
		got.Groups = append(got.Groups, gs...)
		run(t, wall, 10*time.Second, chromedp.Evaluate(`window.iocTestClock.advance(10000)`, nil))
	}
	screenshot(t, wall, "wall-3840x2160-incidents")
	docShot(t, wall, "wall-4k-outage")

	t.Run("map", func(t *testing.T) {
		m := got.Map
		t.Logf("map %.0f×%.0f px in a column %.0f px tall; legend %.0f px², %.0f px² over the districts", m.W, m.H, m.ColH, m.Legend, m.Overlap)
		if m.W < 0.25*got.Screen.W {
			t.Errorf("map %.0f px wide, %.0f%% of the wall; want at least 25%%", m.W, 100*m.W/got.Screen.W)
		}
		if m.H < 0.6*m.ColH {
			t.Errorf("map %.0f px tall in a column of %.0f px; want most of it", m.H, m.ColH)
		}
		if m.Polygons == 0 {
			t.Fatal("no district drawn on the map")
		}
		if !m.Inside {
			t.Error("the legend is not inside the map")
		}
		if m.Overlap > 0.02*m.Legend {
			t.Errorf("the legend covers the districts: %.0f of its %.0f px² lie over their bounding box", m.Overlap, m.Legend)
		}
	})

	t.Run("districts", func(t *testing.T) {
		if got.Districts.Rows != len(reg.Districts()) || got.Districts.Shown != got.Districts.Rows {
			t.Errorf("district table: %d rows of %d districts, %d of them in view", got.Districts.Rows, len(reg.Districts()), got.Districts.Shown)
		}
	})

	t.Run("recorders", func(t *testing.T) {
		seen := map[string]string{}
		for _, g := range got.Groups {
			seen[g.NVR] = g.Head
			bad := 0
			for _, s := range g.States {
				if s != "ok" {
					bad++
				}
			}
			if bad > 0 && g.Head == "✓" {
				t.Errorf("recorder %s shows ✓ while %d of its %d cameras have a problem (%v)", g.NVR, bad, len(g.States), g.States)
			}
		}
		for nvr, want := range map[string]string{outNVR: "✕", tamperedNVR: "⚠"} {
			if h, ok := seen[nvr]; !ok {
				t.Errorf("recorder %s not on any page of the camera grid", nvr)
			} else if h != want {
				t.Errorf("recorder %s shows %q; want %q", nvr, h, want)
			}
		}
	})

	t.Run("headlines", func(t *testing.T) {
		if len(got.Rows) < 15 {
			t.Errorf("%d alert rows on the wall; want at least 15", len(got.Rows))
		}
		what := map[string]string{"camera-tamper": "phá hoại", "device-offline": "mất kết nối", "pm25-out-of-range": "ngoài thang đo"}
		for _, r := range got.Rows {
			if r.Clipped {
				t.Errorf("%s: what happened is cut: %q", r.ID, r.What)
			}
			rule, _, _ := strings.Cut(r.ID, "/")
			if w, ok := what[rule]; ok && !strings.Contains(strings.ToLower(r.What), w) {
				t.Errorf("%s: headline %q does not say %q", r.ID, r.What, w)
			}
			// "+N thiết bị bị ảnh hưởng": every alert folded under it.
			if n := got.Folded[r.ID]; n > 0 && !strings.Contains(r.Text, fmt.Sprintf("+%d ", n)) {
				t.Errorf("%s: %d alerts folded under it; the row says %q", r.ID, n, r.Text)
			}
			if r.Place == "" && !strings.HasPrefix(r.ID, "device-offline/district:") {
				t.Errorf("%s: no place in the headline (%q)", r.ID, r.Text)
			}
		}
	})
}
