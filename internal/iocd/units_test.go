package iocd_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// TestUnitsShownBesideValues (issue 17): the units a sensor's SenML pack
// gives its readings (bu, u) are served with the device and shown next
// to the values: on the technician's phone beside each chart's name, and
// on the integrator's page beside its last payload.
func TestUnitsShownBesideValues(t *testing.T) {
	sys := startIngest(t)
	base := startIOC(t, iocConfig(t, sys, "units"))
	env := integrator(t, sys, "envsense")
	env("aq-tp-02", "telemetry", `[{"bu": "ug/m3", "n": "pm25", "v": 12.5, "t": -60}, {"n": "temp", "u": "Cel", "v": 30.5, "t": -60}]`)

	tech := login(t, base, "technician")
	var info struct{ Units map[string]string }
	testenv.Eventually(t, 15*time.Second, func() error {
		tech.get("/api/v1/devices/aq-tp-02", &info)
		if info.Units["pm25"] != "ug/m3" || info.Units["temp"] != "Cel" || len(info.Units) != 2 {
			return fmt.Errorf("units %v", info.Units)
		}
		return nil
	})

	phone := chrome(t, 390, 844)
	loginPage(t, phone, base, "technician", "/tech/", `body[data-connected="yes"]`)
	var pm25, temp string
	run(t, phone, 20*time.Second,
		chromedp.Evaluate(`location.hash = "#/device/aq-tp-02"`, nil),
		chromedp.WaitVisible(`#charts .chart[data-field="temp"] .label .unit`),
		chromedp.Text(`#charts .chart[data-field="pm25"] .label .unit`, &pm25),
		chromedp.Text(`#charts .chart[data-field="temp"] .label .unit`, &temp))
	if strings.TrimSpace(pm25) != "· ug/m3" || strings.TrimSpace(temp) != "· Cel" {
		t.Errorf("the phone's charts say units %q and %q", pm25, temp)
	}

	page := chrome(t, 1600, 1200)
	row := `#device-rows tr[data-device="aq-tp-02"]`
	loginPage(t, page, base, "envsense", "", row)
	var units string
	run(t, page, 20*time.Second, chromedp.WaitVisible(row+" .units"), chromedp.Text(row+" .units", &units))
	if units != "Đơn vị: pm25 ug/m3 · temp Cel" {
		t.Errorf("the integrator's page says %q", units)
	}
}
