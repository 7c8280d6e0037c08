package iocd_test

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ioc-vn/ioc/internal/registry"
)

// panel is a display the wall runs on: its diagonal in inches (16:9) and
// the pixels across one physical panel.
type panel struct {
	name     string
	diagonal float64
	pixels   int
}

var (
	panel98   = panel{"98″ 3840×2160", 98, 3840}
	panel2x55 = panel{"2×2 55″ 1920×1080 each", 55, 1920}
)

// capPx is the height in pixels a capital letter needs on p to subtend
// arcmin at distance metres (docs/WALL.md).
func capPx(p panel, distance, arcmin float64) float64 {
	widthMM := p.diagonal * 25.4 * 16 / math.Hypot(16, 9)
	pitch := widthMM / float64(p.pixels)
	h := 2 * distance * 1000 * math.Tan(arcmin/60/2*math.Pi/180)
	return h / pitch
}

// arcmin is the angle in minutes of arc a capital cap px tall subtends
// on p at distance metres.
func arcmin(p panel, distance, cap float64) float64 {
	widthMM := p.diagonal * 25.4 * 16 / math.Hypot(16, 9)
	h := cap * widthMM / float64(p.pixels)
	return 2 * math.Atan(h/2/(distance*1000)) * 180 / math.Pi * 60
}

func TestCapThresholds(t *testing.T) {
	for _, c := range []struct {
		p         panel
		d, lo, hi float64
	}{
		{panel98, 5, 41.1, 41.3},
		{panel98, 3, 24.6, 24.8},
		{panel2x55, 5, 36.6, 36.8},
		{panel2x55, 3, 21.9, 22.1},
	} {
		if got := capPx(c.p, c.d, 16); got < c.lo || got > c.hi {
			t.Errorf("%s at %.0f m: %.2f px for 16′; docs/WALL.md says %.1f", c.p.name, c.d, got, (c.lo+c.hi)/2)
		}
		if got := arcmin(c.p, c.d, capPx(c.p, c.d, 16)); math.Abs(got-16) > 1e-9 {
			t.Errorf("arcmin(capPx(16)) = %v", got)
		}
	}
}

// readable is what the wall shows and who must read it from where: far
// elements from 5 m (the back of the room), near ones from the desks at
// 3 m (docs/WALL.md).
var readable = []struct {
	what, sel string
	far       bool
}{
	{"alert headline", "#feed li.alert .msg", true},
	{"alert place, district and age", "#feed li.alert .meta", true},
	{"severity tag", "#feed li.alert .sev", true},
	{"feed +N nữa", "#feed-more", true},
	{"tile label", "#summary .tile .label", true},
	{"tile number", "#summary .tile .value", true},
	{"camera label", "#cams .cam", true},
	{"recorder name", "#cams .nvr-head .name", true},
	{"banner", "#banner-text", true},
	{"clock", "#clock", true},
	{"tile detail", "#summary .tile .sub", false},
	{"panel title", ".panel h2", false},
	{"district table", "#districts td", false},
	{"buttons", ".controls button", false},
}

// measureCaps returns, per selector, the smallest capital height of its
// visible elements, measured in the element's own font (weight, size and
// family as rendered) with canvas text metrics, and how many there were.
func measureCaps(t *testing.T, ctx context.Context, sels []string) map[string]struct {
	Cap float64
	N   int
	Px  float64
} {
	t.Helper()
	b, _ := json.Marshal(sels)
	var js string
	run(t, ctx, 10*time.Second, chromedp.Evaluate(`(() => {
		const c = document.createElement("canvas").getContext("2d"), out = {};
		for (const sel of `+string(b)+`) {
			let min = Infinity, n = 0, px = 0;
			for (const e of document.querySelectorAll(sel)) {
				const r = e.getBoundingClientRect();
				if (r.width === 0 || r.height === 0 || e.closest("[hidden]")) continue;
				const cs = getComputedStyle(e);
				c.font = cs.fontStyle + " " + cs.fontWeight + " " + cs.fontSize + " " + cs.fontFamily;
				const cap = c.measureText("H").actualBoundingBoxAscent;
				if (cap < min) { min = cap; px = parseFloat(cs.fontSize); }
				n++;
			}
			out[sel] = {cap: n ? min : 0, n, px};
		}
		return JSON.stringify(out);
	})()`, &js))
	out := map[string]struct {
		Cap float64
		N   int
		Px  float64
	}{}
	if err := json.Unmarshal([]byte(js), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestWallReadableAtDistance: on a 3840×2160 wall during an incident (21
// root-cause alerts, a new critical one announced by the banner, a camera
// tampered with), every text an operator must read from 5 m has capitals
// that subtend at least 16′ on a 98″ panel, and the rest at least 16′ from
// the desks at 3 m, measured in the fonts Chromium renders.
func TestWallReadableAtDistance(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	sys := startIngest(t)
	base := startIOC(t, iocConfig(t, sys, "distance"))
	reg, err := registry.Load(configs + "devices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	vms := integrator(t, sys, "vms-tn")
	env := integrator(t, sys, "envsense")
	for _, d := range reg.Devices() {
		if d.Integrator == "vms-tn" {
			vms(d.ID, "status", `{"state":"online","recording":true}`)
		}
	}
	wall := chrome(t, 3840, 2160)
	loginPage(t, wall, base, "operator", "/wall/", `body[data-connected="yes"]`)
	for _, d := range reg.Devices() {
		if d.Kind == registry.Camera {
			vms(d.ID, "event", `{"type":"tamper","zone":"ống kính"}`)
		}
	}
	env("wl-cau-gia-bay", "telemetry", `{"water_level_cm":100}`)
	env("wl-cau-gia-bay", "telemetry", `{"water_level_cm":140}`)
	env("aq-tp-02", "telemetry", `{"pm25":1500}`)
	run(t, wall, 20*time.Second, chromedp.WaitVisible("#banner"), chromedp.WaitVisible("#feed-more"),
		chromedp.WaitVisible(`#cams .cam[data-state="alarm"]`))

	sels := make([]string, len(readable))
	for i, r := range readable {
		sels[i] = r.sel
	}
	got := measureCaps(t, wall, sels)
	screenshot(t, wall, "wall-3840x2160-distance")
	docShot(t, wall, "wall-4k-incident")
	far, near := capPx(panel98, 5, 16), capPx(panel98, 3, 16)
	for _, r := range readable {
		m := got[r.sel]
		if m.N == 0 {
			t.Errorf("%s (%s): nothing shown to measure", r.what, r.sel)
			continue
		}
		want, where := near, "3 m"
		if r.far {
			want, where = far, "5 m"
		}
		t.Logf("%-30s font %5.1f px, capitals %5.1f px: %4.1f′ at 5 m on %s, %4.1f′ on %s", r.what, m.Px, m.Cap,
			arcmin(panel98, 5, m.Cap), panel98.name, arcmin(panel2x55, 5, m.Cap), panel2x55.name)
		if m.Cap < want {
			t.Errorf("%s: capitals %.1f px (%.1f′ at %s on a 98″ panel); want at least %.1f px (16′)", r.what, m.Cap, arcmin(panel98, map[bool]float64{true: 5, false: 3}[r.far], m.Cap), where, want)
		}
	}
}
