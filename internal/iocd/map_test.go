package iocd_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// mapDevices is the JS for how many devices the map shows: single
// markers plus the counts written on the clusters.
const mapDevices = `(() => {
  let n = document.querySelectorAll("#map .map-marker").length;
  for (const c of document.querySelectorAll("#map .map-cluster .cl-count")) n += parseInt(c.textContent.replace(/\D/g, ""), 10);
  return n;
})()`

// TestWallMapInChromium: the wall's map draws the districts with their
// names, clusters the devices with counts that add up to every device with
// a position, gives each kind its shape and each state its sign, pulses
// where a new alert is, drills down on a click (a cluster zooms in, a
// device or a district opens a panel on it) and says all this in a legend
// in Vietnamese and English, with no JavaScript errors.
func TestWallMapInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	sys := startIngest(t)
	base := startIOC(t, iocConfig(t, sys, "map"))
	reg, err := registry.Load(configs + "devices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	positioned := 0
	for _, d := range reg.Devices() {
		if d.Lat != 0 || d.Lon != 0 {
			positioned++
		}
	}
	env := integrator(t, sys, "envsense")

	wall := chrome(t, 3840, 2160)
	jsErrors := testenv.JSErrors(wall)
	loginPage(t, wall, base, "operator", "/wall/", `body[data-connected="yes"]`)
	run(t, wall, 10*time.Second, chromedp.WaitVisible(`#map .map-cluster`))

	t.Run("districts and clusters with counts", func(t *testing.T) {
		if n := count(t, wall, `document.querySelectorAll("#map path.district-area").length`); n != len(reg.Districts()) {
			t.Errorf("district polygons %d, want %d", n, len(reg.Districts()))
		}
		var label string
		run(t, wall, 5*time.Second, chromedp.Text(`#map .district-label span[data-district="dai-tu"]`, &label))
		if label != "Huyện Đại Từ" {
			t.Errorf("Đại Từ's label %q", label)
		}
		if n := count(t, wall, mapDevices); n != positioned {
			t.Errorf("the map's markers and cluster counts add up to %d devices, want %d", n, positioned)
		}
		if n := count(t, wall, `Math.max(...[...document.querySelectorAll("#map .map-cluster .cl-count")].map((c) => parseInt(c.textContent, 10)))`); n < 2 {
			t.Errorf("largest cluster counts %d: co-located devices are not grouped", n)
		}
	})

	const id = "water-rising/wl-cau-gia-bay"
	t.Run("a new alert pulses where it is", func(t *testing.T) {
		if n := count(t, wall, `document.querySelectorAll("#map .map-pulse").length`); n != 0 {
			t.Fatalf("%d pulses before any alert", n)
		}
		env("wl-cau-gia-bay", "telemetry", `{"water_level_cm":100}`)
		time.Sleep(200 * time.Millisecond) // the rise rule needs two readings apart
		env("wl-cau-gia-bay", "telemetry", `{"water_level_cm":130}`)
		run(t, wall, 10*time.Second, chromedp.WaitVisible(fmt.Sprintf(`#map .map-pulse[data-alert=%q]`, id)))
		// The pulse is at the sensor: its screen position is the device's.
		var off float64
		run(t, wall, 5*time.Second, chromedp.Evaluate(`(() => {
		  const m = document.querySelector("#map").iocMap, p = document.querySelector('#map .map-pulse[data-alert="`+id+`"]');
		  const want = m.map.latLngToContainerPoint([21.60861, 105.83674]), box = p.getBoundingClientRect(), c = document.querySelector("#map").getBoundingClientRect();
		  return Math.hypot(box.left + box.width / 2 - c.left - want.x, box.top + box.height / 2 - c.top - want.y);
		})()`, &off))
		if off > 3 {
			t.Errorf("pulse %.1f px from the sensor's position", off)
		}
		// Its state is drawn with a sign, not only a colour: the cluster
		// holding it (or its own marker) now shows a degraded device.
		var sign string
		run(t, wall, 10*time.Second, chromedp.Poll(`(() => { const e = document.querySelector("#map .map-cluster.h-degraded .cl-bad, #map .map-marker .h-degraded .mk-sign"); return e ? e.textContent : null })()`, &sign, chromedp.WithPollingTimeout(10*time.Second)))
		if sign == "" || sign[0] != '!' {
			t.Errorf("degraded sign %q, want it to start with !", sign)
		}
		screenshot(t, wall, "wall-map-pulse")
	})

	t.Run("click drills down", func(t *testing.T) {
		var before, after float64
		run(t, wall, 5*time.Second, chromedp.Evaluate(`document.querySelector("#map").iocMap.map.getZoom()`, &before))
		run(t, wall, 10*time.Second,
			chromedp.Click(`#map .map-cluster.h-degraded`),
			chromedp.Poll(`(() => { const z = document.querySelector("#map").iocMap.map.getZoom(); return z > `+fmt.Sprint(before)+` ? z : null })()`, &after, chromedp.WithPollingTimeout(5*time.Second)))
		// Zoom in until the sensor stands alone, then click it.
		sel := `#map .map-marker[title="Mực nước sông Cầu - cầu Gia Bảy"]`
		run(t, wall, 15*time.Second,
			chromedp.Evaluate(`(() => { const m = document.querySelector("#map").iocMap; m.cluster.zoomToShowLayer(m.markers.get("wl-cau-gia-bay")); })()`, nil),
			chromedp.WaitVisible(sel),
			chromedp.Sleep(400*time.Millisecond), // the zoom animation
			chromedp.Click(sel),
			chromedp.WaitVisible(`#map .map-detail[data-device="wl-cau-gia-bay"]`))
		var title, alerts string
		run(t, wall, 5*time.Second,
			chromedp.Text(`#map .map-detail .md-title`, &title),
			chromedp.Text(`#map .map-detail .md-alerts`, &alerts))
		if title != "Mực nước sông Cầu - cầu Gia Bảy" {
			t.Errorf("device panel title %q", title)
		}
		if n := count(t, wall, `document.querySelectorAll('#map .map-detail li[data-alert="`+id+`"]').length`); n != 1 {
			t.Errorf("device panel does not list its open alert: %q", alerts)
		}
		screenshot(t, wall, "wall-map-device")
		run(t, wall, 5*time.Second, chromedp.Click(`#map .map-detail .md-close`), chromedp.WaitNotVisible(`#map .map-detail`))

		// A district: click inside Võ Nhai's polygon, where no marker is.
		run(t, wall, 15*time.Second,
			chromedp.Evaluate(`(() => { const m = document.querySelector("#map").iocMap; m.map.fitBounds(m.home); })()`, nil),
			chromedp.Sleep(400*time.Millisecond))
		var pt struct{ X, Y float64 }
		run(t, wall, 5*time.Second, chromedp.Evaluate(`(() => {
		  const m = document.querySelector("#map").iocMap, c = document.querySelector("#map").getBoundingClientRect();
		  const p = m.map.latLngToContainerPoint([21.78, 106.12]);
		  return {X: c.left + p.x, Y: c.top + p.y};
		})()`, &pt))
		run(t, wall, 10*time.Second, chromedp.MouseClickXY(pt.X, pt.Y), chromedp.WaitVisible(`#map .map-detail[data-district="vo-nhai"]`))
		var dtitle string
		run(t, wall, 5*time.Second, chromedp.Text(`#map .map-detail .md-title`, &dtitle))
		if dtitle != "Huyện Võ Nhai" {
			t.Errorf("district panel title %q", dtitle)
		}
		screenshot(t, wall, "wall-map-district")
	})

	t.Run("legend in Vietnamese and English", func(t *testing.T) {
		var vi, en string
		run(t, wall, 5*time.Second, chromedp.Text(`#map .map-legend`, &vi))
		for _, w := range []string{"Chú giải", "Camera", "Đầu ghi", "Mất kết nối", "Cảnh báo mới"} {
			if !strings.Contains(vi, w) {
				t.Errorf("Vietnamese legend %q lacks %q", vi, w)
			}
		}
		run(t, wall, 5*time.Second, chromedp.Click("#lang"), chromedp.Poll(`(() => { const e = document.querySelector("#map .map-legend .lg-title"); return e && e.textContent === "Legend" ? e.textContent : null })()`, nil, chromedp.WithPollingTimeout(5*time.Second)), chromedp.Text(`#map .map-legend`, &en))
		for _, w := range []string{"Legend", "Cameras", "Recorders", "New alert"} {
			if !strings.Contains(en, w) {
				t.Errorf("English legend %q lacks %q", en, w)
			}
		}
		run(t, wall, 5*time.Second, chromedp.Click("#lang"))
	})

	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("JavaScript errors on the wall: %q", errs)
	}
}
