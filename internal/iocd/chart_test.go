package iocd_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// TestChartsInChromium: on the phone's device page a PM2.5 chart names
// the field and its unit, lists the rules' alarm levels (major above 150,
// clearing at 120), draws a y-range that holds the readings and the next
// alarm level but not the far "out of range" one, and writes the latest
// reading the Vietnamese way at its Asia/Ho_Chi_Minh time; the water
// level's chart names its rise rule.
func TestChartsInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	sys := startIngest(t)
	base := startIOC(t, iocConfig(t, sys, "charts"))
	env := integrator(t, sys, "envsense")
	// 12 readings of aq-tp-02, one every 10 minutes, the last on a
	// 5-minute boundary (the history's window at 24 h) two minutes ago.
	last := time.Now().Add(-2 * time.Minute).Truncate(5 * time.Minute)
	for i := 11; i >= 0; i-- {
		v := 80.0 + float64(11-i)*4 + 0.4 // 80,4 … 124,4
		env("aq-tp-02", "telemetry", fmt.Sprintf(`{"ts":%d,"pm25":%.1f}`, last.Add(-time.Duration(i)*10*time.Minute).UnixMilli(), v))
	}
	env("wl-cau-gia-bay", "telemetry", `{"water_level_cm":210.5}`)

	phone := chrome(t, 390, 844)
	jsErrors := testenv.JSErrors(phone)
	loginPage(t, phone, base, "technician", "/tech/", "#alerts")
	chart := `#charts .chart[data-field="pm25"]`
	run(t, phone, 20*time.Second, chromedp.Navigate(base+"/tech/#/device/aq-tp-02"), chromedp.WaitVisible(chart+` canvas`))

	var label, levels, latest string
	run(t, phone, 5*time.Second,
		chromedp.Text(chart+` .label`, &label),
		chromedp.Text(chart+` .levels`, &levels),
		chromedp.Text(chart+` .last`, &latest))
	if label != "Bụi mịn PM2.5 (µg/m³)" {
		t.Errorf("chart label %q", label)
	}
	if !strings.Contains(levels, "Cao: > 150 (hết khi về 120)") || !strings.Contains(levels, "> 1.000") {
		t.Errorf("alarm levels %q; want pm25-high's (Cao: > 150, hết khi về 120) and the out-of-range 1.000", levels)
	}
	hcm, _ := time.LoadLocation("Asia/Ho_Chi_Minh")
	if want := "Mới nhất: 124,4 · " + last.In(hcm).Format("15:04 02/01"); latest != want {
		t.Errorf("latest %q, want %q", latest, want)
	}
	var y struct{ Min, Max float64 }
	run(t, phone, 5*time.Second, chromedp.Evaluate(`(() => { const s = document.querySelector('`+chart+`').iocChart.scales.y; return {Min: s.min, Max: s.max}; })()`, &y))
	if y.Min > 80.4 || y.Max < 150 || y.Max > 200 {
		t.Errorf("y from %.1f to %.1f; want the readings (80,4…124,4) and the alarm at 150, not 1.000", y.Min, y.Max)
	}
	if w := count(t, phone, `Math.round(document.querySelector('`+chart+` canvas').getBoundingClientRect().right)`); w > 390 {
		t.Errorf("chart reaches %d px on a 390 px phone", w)
	}
	screenshot(t, phone, "tech-390-chart-pm25")

	water := `#charts .chart[data-field="water_level_cm"]`
	run(t, phone, 20*time.Second, chromedp.Navigate(base+"/tech/#/device/wl-cau-gia-bay"), chromedp.WaitVisible(water+` canvas`))
	var wl string
	run(t, phone, 5*time.Second, chromedp.Text(water+` .levels`, &wl))
	if !strings.Contains(wl, "Nghiêm trọng: tăng quá 20 trong 10 phút") {
		t.Errorf("water level's alarm levels %q", wl)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("JavaScript errors: %q", errs)
	}
}
