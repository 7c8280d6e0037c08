package iocd_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/testenv"
)

func chrome(t testing.TB, w, h int) context.Context { return testenv.Chrome(t, w, h) }

func run(t testing.TB, ctx context.Context, timeout time.Duration, actions ...chromedp.Action) {
	t.Helper()
	testenv.Browse(t, ctx, timeout, actions...)
}

func loginPage(t testing.TB, ctx context.Context, base, name, next, ready string) {
	t.Helper()
	testenv.Login(t, ctx, base, name, next, ready)
}

func screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	testenv.Screenshot(t, ctx, testenv.Artifacts(t, "../.."), name)
}

// docShot also saves the page as $IOC_SCREENSHOTS/name.png when that is
// set (a path from the repository's root, e.g. docs/images): the
// screenshots the README shows are made by the tests.
//
//	IOC_SCREENSHOTS=docs/images go test ./internal/iocd -run 'TestWallReadableAtDistance|TestWallDuringIncidents|TestWallCameraGrid|TestWallViews|TestTechnicianInChromium'
func docShot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("IOC_SCREENSHOTS")
	if dir == "" {
		return
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join("../..", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	testenv.Screenshot(t, ctx, dir, name)
}

func count(t testing.TB, ctx context.Context, js string) int {
	t.Helper()
	var n int
	run(t, ctx, 10*time.Second, chromedp.Evaluate(js, &n))
	return n
}

// TestWallInChromium: two walls on two IOC servers behind the same broker.
// Each renders the snapshot; an alert from a device appears on both within
// a second; acknowledging on one updates the other and reaches the alert
// service; a wall whose server goes away says so plainly and recovers.
func TestWallInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	sys := startIngest(t)
	baseA := startIOC(t, iocConfig(t, sys, "a"))
	cfgB := iocConfig(t, sys, "b")
	stopB, baseB := startIOCStoppable(t, cfgB)
	reg, err := registry.Load(configs + "devices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cams, markers := 0, 0
	for _, d := range reg.Devices() {
		if d.Kind == registry.Camera {
			cams++
		}
		if d.Lat != 0 || d.Lon != 0 {
			markers++
		}
	}
	vms := integrator(t, sys, "vms-tn")
	env := integrator(t, sys, "envsense")
	for _, d := range reg.Devices() {
		if d.Integrator == "vms-tn" {
			vms(d.ID, "status", `{"state":"online","recording":true}`)
		}
	}

	wallA := chrome(t, 3840, 2160)
	wallB := chrome(t, 3840, 2160)
	loginPage(t, wallA, baseA, "operator", "/wall/", `body[data-connected="yes"]`)
	loginPage(t, wallB, baseB, "viewer", "/wall/", `body[data-connected="yes"]`)

	t.Run("renders the snapshot", func(t *testing.T) {
		run(t, wallA, 10*time.Second, chromedp.WaitVisible(`#summary .tile[data-kind="camera"]`))
		if n := count(t, wallA, `document.querySelectorAll("#cams .cam").length`); n != cams {
			t.Errorf("camera tiles %d, registry cameras %d", n, cams)
		}
		if n := count(t, wallA, mapDevices); n != markers {
			t.Errorf("map markers and cluster counts add up to %d, devices with coordinates %d", n, markers)
		}
		if n := count(t, wallA, `document.querySelectorAll("#map path.outline").length`); n != 1 {
			t.Errorf("province outline paths %d", n)
		}
		if n := count(t, wallA, `document.querySelectorAll("#districts tr[data-district]").length`); n != len(reg.Districts()) {
			t.Errorf("district rows %d, want %d", n, len(reg.Districts()))
		}
		var online string
		run(t, wallA, 10*time.Second, chromedp.Poll(`(() => { const e = document.querySelector('#summary .tile[data-kind="camera"]'); return e && e.dataset.online === e.dataset.total ? e.dataset.online : null })()`, &online, chromedp.WithPollingTimeout(10*time.Second)))
		var title string
		run(t, wallA, 5*time.Second, chromedp.Text(`h2 [data-i18n="active_alerts"]`, &title))
		if title != "Cảnh báo đang mở" {
			t.Errorf("wall language: heading %q, want Vietnamese by default", title)
		}
	})

	const id = "water-rising/wl-cau-gia-bay"
	sel := fmt.Sprintf(`#feed li[data-alert=%q]`, id)
	t.Run("an alert appears within a second", func(t *testing.T) {
		env("wl-cau-gia-bay", "telemetry", `{"water_level_cm":100}`)
		time.Sleep(200 * time.Millisecond)
		start := time.Now()
		env("wl-cau-gia-bay", "telemetry", `{"water_level_cm":130}`)
		run(t, wallA, 5*time.Second, chromedp.WaitVisible(sel))
		elapsed := time.Since(start)
		run(t, wallB, 5*time.Second, chromedp.WaitVisible(sel))
		t.Logf("device message to alert on the wall: %s", elapsed)
		if elapsed > time.Second {
			t.Errorf("alert on the wall %s after the device's message; want within 1s", elapsed)
		}
		if n := count(t, wallA, `document.querySelectorAll(`+"`"+sel+`.flash.sev-critical`+"`"+`).length`); n != 1 {
			t.Errorf("critical unacknowledged alert does not flash")
		}
		screenshot(t, wallA, "wall-3840x2160-alert")
	})

	t.Run("acknowledge on one wall, seen on the other and by the alert service", func(t *testing.T) {
		if n := count(t, wallB, `document.querySelectorAll(`+"`"+sel+` button.ack`+"`"+`).length`); n != 0 {
			t.Errorf("a viewer's wall offers acknowledgement")
		}
		run(t, wallA, 5*time.Second, chromedp.Click(sel+" button.ack"))
		run(t, wallB, 5*time.Second, chromedp.WaitVisible(sel+".acked"))
		var alerts struct {
			Alerts []alertJSON
		}
		login(t, baseB, "viewer").get("/api/v1/alerts", &alerts)
		for _, a := range alerts.Alerts {
			if a.ID == id && (a.Ack == nil || a.Ack.By != "operator") {
				t.Fatalf("alert service's copy: %+v", a)
			}
		}
		screenshot(t, wallB, "wall-b-acknowledged")
	})

	t.Run("connection loss is shown and recovered", func(t *testing.T) {
		stopB()
		run(t, wallB, 10*time.Second, chromedp.WaitVisible("#lost"))
		screenshot(t, wallB, "wall-connection-lost")
		_, _ = startIOCStoppable(t, cfgB) // same address: the wall reconnects and resyncs
		run(t, wallB, 30*time.Second, chromedp.WaitNotVisible("#lost"), chromedp.WaitVisible(sel+".acked"))
	})

	t.Run("English", func(t *testing.T) {
		var title string
		run(t, wallA, 5*time.Second, chromedp.Click("#lang"), chromedp.Text(`h2 [data-i18n="active_alerts"]`, &title))
		if title != "Open alerts" {
			t.Errorf("after switching: %q", title)
		}
	})
}

// TestTechnicianInChromium: the technician's phone (390 px wide) lists open
// alerts, most severe first and nearest first within a severity, opens a device with its chart and
// history, and resolves an alert with a note.
func TestTechnicianInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	sys := startIngest(t)
	base := startIOC(t, iocConfig(t, sys, "tech"))
	env := integrator(t, sys, "envsense")
	for i, v := range []int{90, 95, 100, 140} {
		if i == 3 {
			time.Sleep(100 * time.Millisecond)
		}
		env("wl-phoyen-01", "telemetry", fmt.Sprintf(`{"water_level_cm":%d}`, v))
	}
	env("aq-dinhhoa-01", "telemetry", `{"pm25":1500}`) // out of the sensor's range: a minor alert

	phone := chrome(t, 390, 844)
	run(t, phone, 10*time.Second,
		emulation.SetDeviceMetricsOverride(390, 844, 3, true),
		browser.SetPermission(&browser.PermissionDescriptor{Name: "geolocation"}, browser.PermissionSettingGranted).WithOrigin(base),
		// Standing in Định Hóa: its air station is nearer than Phổ Yên's river.
		emulation.SetGeolocationOverride().WithLatitude(21.92).WithLongitude(105.64).WithAccuracy(10),
	)
	loginPage(t, phone, base, "technician", "/tech/", `body[data-connected="yes"]`)
	run(t, phone, 10*time.Second, chromedp.WaitVisible(`#alerts li[data-alert="water-rising/wl-phoyen-01"]`), chromedp.WaitVisible(`#alerts li[data-alert="pm25-out-of-range/aq-dinhhoa-01"]`))
	first := func() string {
		var s string
		run(t, phone, 5*time.Second, chromedp.AttributeValue(`#alerts li:first-child`, "data-alert", &s, nil))
		return s
	}
	if got := first(); got != "water-rising/wl-phoyen-01" {
		t.Errorf("by severity, first is %s; want the critical river alert", got)
	}
	// "Nearest" orders within a severity: the critical river stays above
	// Định Hóa's nearer minor air station, and each card says how far.
	run(t, phone, 10*time.Second, chromedp.Click("#nearest"), chromedp.WaitVisible(`#alerts li:first-child .dist`),
		chromedp.WaitVisible(`#alerts li[data-alert="pm25-out-of-range/aq-dinhhoa-01"] .dist`))
	if got := first(); got != "water-rising/wl-phoyen-01" {
		t.Errorf("nearest on, first is %s; want the critical river alert (severity first)", got)
	}
	if w := count(t, phone, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("page is %d px wide on a 390 px phone", w)
	}
	screenshot(t, phone, "tech-390-alerts")
	docShot(t, phone, "tech-390")

	run(t, phone, 10*time.Second,
		chromedp.Click(`#alerts li[data-alert="water-rising/wl-phoyen-01"] a`),
		chromedp.WaitVisible(`#charts .chart[data-field="water_level_cm"]`),
		chromedp.WaitVisible(`#dev-history li[data-transition="raised"]`),
	)
	screenshot(t, phone, "tech-390-device")
	const note = "Đã kiểm tra tại chỗ, mực nước đã ổn định"
	run(t, phone, 10*time.Second,
		chromedp.Click(`#dev-alerts li[data-alert="water-rising/wl-phoyen-01"] button.resolve`),
		chromedp.WaitVisible("#resolve-note"),
		chromedp.SendKeys("#resolve-note", note),
		chromedp.Click("#resolve-send"),
		chromedp.WaitNotPresent(`#dev-alerts li[data-alert="water-rising/wl-phoyen-01"]`),
		chromedp.WaitVisible(`#dev-history li[data-transition="resolved"]`),
	)
	var text string
	run(t, phone, 5*time.Second, chromedp.Text(`#dev-history li[data-transition="resolved"]`, &text))
	if !strings.Contains(text, note) || !strings.Contains(text, "Kỹ thuật viên hiện trường") {
		t.Errorf("history entry %q lacks the note or the technician's name", text)
	}
}
