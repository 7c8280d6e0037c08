package iocd_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestWallReadings: the wall's readings panels show the worst two PM2.5
// stations against the 150 µg/m³ alarm level (the one over it first, its
// value red, "182,4 / 150 µg/m³", "ngưỡng 150" below) and the two highest water levels (a rise rule
// only: no fixed level), each with the value the readings API gives, in
// type read at 5 m, with its last two hours drawn by uPlot; a station in
// a district outside the view is left out.
func TestWallReadings(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	sys := startIngest(t)
	base := startIOC(t, iocConfig(t, sys, "readings"))
	env := integrator(t, sys, "envsense")
	for dev, body := range map[string]string{
		"aq-tp-01":       `{"pm25": 182.4}`,
		"aq-tp-02":       `{"pm25": 90}`,
		"aq-dinhhoa-01":  `{"pm25": 60}`,
		"wl-cau-gia-bay": `{"water_level_cm": 310.5}`,
		"wl-phoyen-01":   `{"water_level_cm": 120}`,
	} {
		env(dev, "telemetry", body)
	}
	var api struct {
		Readings []struct {
			Device, Field string
			Value         float64
		}
	}
	login(t, base, "viewer").get("/api/v1/readings?field=pm25&field=water_level_cm", &api)
	if len(api.Readings) != 5 {
		t.Fatalf("the readings API gives %+v; want the 5 readings sent", api.Readings)
	}

	wall := chrome(t, 3840, 2160)
	loginPage(t, wall, base, "operator", "/wall/", `body[data-connected="yes"]`)
	type row struct {
		Device, Field, Value, Level, Text, Name, Colour string
		Caps                                            float64
		Plot                                            bool
	}
	read := func() []row {
		var js string
		run(t, wall, 20*time.Second, chromedp.WaitVisible(`#readings li[data-device] canvas`), chromedp.Evaluate(`JSON.stringify([...document.querySelectorAll("#readings li[data-device]")].map((li) => ({
			device: li.dataset.device, field: li.dataset.field, value: li.dataset.value, level: li.dataset.level,
			text: li.querySelector(".value").textContent, name: li.querySelector(".name").textContent,
			colour: getComputedStyle(li.querySelector(".value .v")).color,
			caps: parseFloat(getComputedStyle(li.querySelector(".value")).fontSize) * 0.714,
			plot: !!li.querySelector(".chart.spark canvas")})))`, &js))
		var rows []row
		if err := json.Unmarshal([]byte(js), &rows); err != nil {
			t.Fatal(err)
		}
		return rows
	}
	rows := read()
	want := []struct{ device, text, level string }{
		{"aq-tp-01", "182,4 / 150 µg/m³", "150"},
		{"aq-tp-02", "90 / 150 µg/m³", "150"},
		{"wl-cau-gia-bay", "310,5 cm", ""},
		{"wl-phoyen-01", "120 cm", ""},
	}
	if len(rows) != len(want) {
		t.Fatalf("readings panel: %+v; want %d rows", rows, len(want))
	}
	byDevice := map[string]float64{}
	for _, r := range api.Readings {
		byDevice[r.Device] = r.Value
	}
	for i, w := range want {
		r := rows[i]
		if r.Device != w.device || r.Text != w.text || r.Level != w.level {
			t.Errorf("row %d: %s %q level %q; want %s %q level %q", i+1, r.Device, r.Text, r.Level, w.device, w.text, w.level)
		}
		if r.Value != jsonNum(byDevice[r.Device]) {
			t.Errorf("%s shows %s; the API says %v", r.Device, r.Value, byDevice[r.Device])
		}
		if r.Caps < 41.2 {
			t.Errorf("%s: the value's capitals are %.1f px; want 41.2 (16′ at 5 m on a 98″ panel)", r.Device, r.Caps)
		}
		if !r.Plot {
			t.Errorf("%s: no chart of its last two hours", r.Device)
		}
	}
	if rows[0].Colour != "rgb(255, 59, 59)" || rows[1].Colour == "rgb(255, 59, 59)" {
		t.Errorf("colours: over the level %s, under it %s; want red, then not", rows[0].Colour, rows[1].Colour)
	}
	if !strings.Contains(rows[0].Name, "ngưỡng 150 · Bụi mịn PM2.5 · Trạm không khí Quảng trường") {
		t.Errorf("the first row is named %q", rows[0].Name)
	}
	screenshot(t, wall, "wall-3840x2160-readings")

	// Định Hóa's view: its one air station; no river station there.
	run(t, wall, 20*time.Second, chromedp.Navigate(base+"/wall/?district=dinh-hoa"), chromedp.WaitVisible(`body[data-connected="yes"]`))
	rows = read()
	if len(rows) != 1 || rows[0].Device != "aq-dinhhoa-01" || rows[0].Text != "60 / 150 µg/m³" {
		t.Errorf("Định Hóa's readings: %+v", rows)
	}
}

// jsonNum writes v as JavaScript's String(v) does for these values.
func jsonNum(v float64) string {
	b, _ := json.Marshal(v)
	return string(b)
}
