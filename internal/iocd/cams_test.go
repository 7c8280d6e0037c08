package iocd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// testClock is installed in a page before its scripts run: the wall's
// camera pages and view rotation turn only when the test advances it
// (window.iocTestClock.advance(ms)).
const testClock = `window.iocTestClock = (() => {
	let now = Date.now();
	const timers = [];
	return {
		now: () => now,
		every(ms, f) { timers.push({ ms, f, next: now + ms }); },
		advance(ms) { now += ms; for (const x of timers) while (x.next <= now) { x.next += x.ms; x.f(); } },
	};
})();`

func installTestClock(t testing.TB, ctx context.Context) {
	t.Helper()
	run(t, ctx, 10*time.Second, chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := page.AddScriptToEvaluateOnNewDocument(testClock).Do(ctx)
		return err
	}))
}

// camGrid is what the camera panel shows.
type camGrid struct {
	Page, Pages, Pinned int
	Title               string
	Groups              []struct {
		NVR     string
		Problem bool
		Cams    []struct {
			ID, State, Label, Icon, Bg string
			Clipped                    bool
		}
	}
}

func readGrid(t testing.TB, ctx context.Context) camGrid {
	t.Helper()
	var js string
	run(t, ctx, 10*time.Second, chromedp.Evaluate(`(() => {
		const box = document.querySelector("#cams"), b = box.getBoundingClientRect();
		const groups = [...box.querySelectorAll(".nvr")].filter((g) => { const r = g.getBoundingClientRect(); return r.top >= b.top - 1 && r.bottom <= b.bottom + 1; }).map((g) => ({
			nvr: g.dataset.nvr, problem: g.classList.contains("problem"),
			cams: [...g.querySelectorAll(".cam")].map((c) => ({id: c.dataset.device, state: c.dataset.state,
				label: c.querySelector(".num").textContent, icon: c.querySelector(".icon").textContent,
				bg: getComputedStyle(c).backgroundColor, clipped: c.scrollWidth > c.clientWidth + 1}))}));
		return JSON.stringify({page: +box.dataset.page, pages: +box.dataset.pages, pinned: +box.dataset.pinned,
			title: document.querySelector("#cams-page").textContent, groups});
	})()`, &js))
	var g camGrid
	if err := json.Unmarshal([]byte(js), &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestWallCameraGrid: the simulated province's 473 cameras behind 40
// recorders on a 4K wall. Recorders with a problem come first and stay;
// the healthy ones turn a page at a time on a clock the test controls,
// and every recorder is shown within one turn of the pages. Each camera
// is labelled by what tells it from its siblings (its number), whole, and
// shows its state by an icon as well as a colour; the camera tampered
// with is red. With 4,000 cameras the same holds.
func TestWallCameraGrid(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	province := configs + "province.yaml"
	sys := startIngest(t, func(c *ingestd.Config) { c.Registry = province })
	ic := iocConfig(t, sys, "cams")
	ic.Registry = province
	base := startIOC(t, ic)
	reg, err := registry.Load(province)
	if err != nil {
		t.Fatal(err)
	}
	vms := integrator(t, sys, "vms-tn")
	nvrs := map[string]bool{}
	for _, d := range reg.Devices() {
		if d.Kind == registry.Camera || d.Kind == registry.NVR {
			vms(d.ID, "status", `{"state":"online","recording":true}`)
		}
		if d.Kind == registry.NVR {
			nvrs[d.ID] = true
		}
	}
	const tampered, notRecording = "cam-bvtw-03", "cam-kcn-donghy-2-04" // the second: a blurred image (major)
	tamperedNVR, notRecNVR := "", ""
	if d, ok := reg.Device(tampered); ok {
		tamperedNVR = d.Parent
	}
	if d, ok := reg.Device(notRecording); ok {
		notRecNVR = d.Parent
	}
	if tamperedNVR == "" || notRecNVR == "" {
		t.Fatalf("province.yaml lacks %s or %s", tampered, notRecording)
	}

	wall := chrome(t, 3840, 2160)
	installTestClock(t, wall)
	loginPage(t, wall, base, "operator", "/wall/", `body[data-connected="yes"]`)
	testenv.Eventually(t, 30*time.Second, func() error {
		if n := count(t, wall, `(() => { const e = document.querySelector('#summary .tile[data-kind="camera"]'); return e && e.dataset.online === e.dataset.total ? 1 : 0 })()`); n != 1 {
			return fmt.Errorf("cameras not all online on the wall")
		}
		return nil
	})
	vms(tampered, "event", `{"type":"tamper","zone":"ống kính"}`)
	vms(notRecording, "event", `{"type":"blur"}`)
	testenv.Eventually(t, 20*time.Second, func() error {
		states := map[string]string{}
		for _, grp := range readGrid(t, wall).Groups {
			for _, c := range grp.Cams {
				states[c.ID] = c.State
			}
		}
		if states[tampered] != "alarm" || states[notRecording] != "degraded" {
			g := readGrid(t, wall)
			return fmt.Errorf("the grid (page %d/%d, %d pinned, %d groups, %q) shows %s %q and %s %q; want alarm and degraded", g.Page, g.Pages, g.Pinned, len(g.Groups), g.Title, tampered, states[tampered], notRecording, states[notRecording])
		}
		return nil
	})
	g := readGrid(t, wall)
	screenshot(t, wall, "wall-3840x2160-cameras")
	docShot(t, wall, "wall-4k-cameras")
	if g.Pages < 2 {
		t.Fatalf("473 cameras fit on %d page(s) at 4K in type read at 5 m? %+v", g.Pages, g)
	}
	if !strings.Contains(g.Title, "2 đầu ghi có sự cố") || !strings.Contains(g.Title, fmt.Sprintf("trang 1/%d", g.Pages)) {
		t.Errorf("camera panel title says %q; want the 2 problem recorders and the page", g.Title)
	}
	seen := map[string]bool{}
	check := func(g camGrid) {
		t.Helper()
		if len(g.Groups) < 3 {
			t.Fatalf("page %d shows %d recorders whole", g.Page, len(g.Groups))
		}
		problems := []string{g.Groups[0].NVR, g.Groups[1].NVR}
		slices.Sort(problems)
		want := []string{tamperedNVR, notRecNVR}
		slices.Sort(want)
		if !slices.Equal(problems, want) || !g.Groups[0].Problem || g.Groups[2].Problem {
			t.Errorf("page %d starts with %v; want the problem recorders %v first", g.Page, problems, want)
		}
		for _, grp := range g.Groups {
			seen[grp.NVR] = true
			for _, c := range grp.Cams {
				d, _ := reg.Device(c.ID)
				if c.Clipped || c.Label == "" || !strings.Contains(d.Name, c.Label) || len([]rune(c.Label)) > 3 {
					t.Errorf("camera %s (%q) is labelled %q (clipped %v); want its number, whole", c.ID, d.Name, c.Label, c.Clipped)
				}
				if c.Icon == "" {
					t.Errorf("camera %s in state %s has no icon: colour alone", c.ID, c.State)
				}
				switch c.ID {
				case tampered:
					if c.State != "alarm" || c.Bg != "rgb(255, 59, 59)" || c.Icon != "⚠" {
						t.Errorf("tampered camera: state %s, background %s, icon %q; want alarm, red, ⚠", c.State, c.Bg, c.Icon)
					}
				case notRecording:
					if c.State != "degraded" || c.Icon != "!" {
						t.Errorf("blurred camera: state %s, icon %q", c.State, c.Icon)
					}
				default:
					if c.State != "ok" || c.Icon != "✓" || c.Bg != "rgb(46, 204, 113)" {
						t.Errorf("camera %s: state %s, icon %q, background %s; want ok, ✓, green", c.ID, c.State, c.Icon, c.Bg)
					}
				}
			}
		}
	}
	check(g)
	for p := 2; p <= g.Pages; p++ {
		// Nothing turns without the clock.
		if again := readGrid(t, wall); again.Page != p-1 {
			t.Fatalf("the page turned by itself: %d", again.Page)
		}
		run(t, wall, 5*time.Second, chromedp.Evaluate(`iocTestClock.advance(10000)`, nil))
		next := readGrid(t, wall)
		if next.Page != p {
			t.Fatalf("after 10 s the camera panel shows page %d; want %d", next.Page, p)
		}
		check(next)
	}
	if len(seen) != len(nvrs) {
		t.Errorf("one turn of %d pages showed %d of %d recorders", g.Pages, len(seen), len(nvrs))
	}
	run(t, wall, 5*time.Second, chromedp.Evaluate(`iocTestClock.advance(10000)`, nil))
	if again := readGrid(t, wall); again.Page != 1 {
		t.Errorf("after the last page comes page %d; want 1", again.Page)
	}

	// 4,000 cameras: 3,527 more behind 300 more recorders, 12 of them with
	// a camera offline.
	run(t, wall, 20*time.Second, chromedp.Evaluate(`(() => {
		for (let r = 0; r < 300; r++) {
			const nvr = "nvr-x" + String(r).padStart(3, "0");
			iocLive.devices.set(nvr, {id: nvr, kind: "nvr", name: "Đầu ghi thử " + r, district: "dai-tu", status: "online", health: "ok", alerts: []});
			for (let c = 0; c < 12 && r * 12 + c < 3527; c++) {
				const id = nvr + "-cam-" + String(c + 1).padStart(2, "0");
				const down = r % 25 === 0 && c === 0;
				iocLive.devices.set(id, {id, kind: "camera", parent: nvr, name: "Camera " + String(c + 1).padStart(2, "0") + " thử " + r, district: "dai-tu",
					status: down ? "offline" : "online", health: down ? "down" : "ok", alerts: []});
			}
		}
		iocWall.render();
	})()`, nil))
	big := readGrid(t, wall)
	screenshot(t, wall, "wall-3840x2160-cameras-4000")
	// 14 problem recorders do not fit beside each other: they turn, and
	// the healthy ones wait.
	if big.Pinned != 0 || big.Pages < 2 || len(big.Groups) == 0 {
		t.Fatalf("4,000 cameras, 14 problem recorders: %d pages, %d pinned, %d shown", big.Pages, big.Pinned, len(big.Groups))
	}
	if !strings.Contains(big.Title, "14 đầu ghi có sự cố") {
		t.Errorf("camera panel title says %q", big.Title)
	}
	problems := 0
	for p := 1; p <= big.Pages; p++ {
		g := readGrid(t, wall)
		for _, grp := range g.Groups {
			if !grp.Problem {
				t.Errorf("page %d of the problems shows healthy recorder %s", g.Page, grp.NVR)
			}
			problems++
			for _, c := range grp.Cams {
				if c.State == "down" && (c.Icon != "✕" || c.Bg != "rgb(255, 59, 59)") {
					t.Errorf("offline camera %s: icon %q, background %s", c.ID, c.Icon, c.Bg)
				}
			}
		}
		run(t, wall, 5*time.Second, chromedp.Evaluate(`iocTestClock.advance(10000)`, nil))
	}
	if problems != 14 {
		t.Errorf("one turn of the problem pages showed %d recorders; want 14", problems)
	}
}
