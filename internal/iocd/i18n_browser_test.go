package iocd_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/registry"
)

// fastSilenceRules is the shipped rules file with every device falling
// silent 3 s after start, so that district outages come at once.
func fastSilenceRules(t *testing.T) func(*ingestd.Config) {
	b, err := os.ReadFile(configs + "rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const shipped = "timeouts: {camera: 2m, nvr: 2m, gateway: 5m, sensor: 15m}"
	if !strings.Contains(string(b), shipped) {
		t.Fatalf("rules.yaml has no %q", shipped)
	}
	p := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), shipped, "timeouts: {camera: 3s, nvr: 3s, gateway: 3s, sensor: 3s}", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return func(c *ingestd.Config) { c.Alerts.Rules = p }
}

var wordRE = regexp.MustCompile(`[\p{L}][\p{L}\p{N}_.²³/µ-]*`)

// words splits text into lower-case words without trailing punctuation.
func words(s string) []string {
	var out []string
	for _, w := range wordRE.FindAllString(s, -1) {
		out = append(out, strings.ToLower(strings.TrimRight(w, "./-")))
	}
	return out
}

// leaks finds in text what must not show in lang: words only the other
// language's dictionary has (names of devices and places allowed), raw
// identifiers of devices, districts, rules and event types, and (in
// Vietnamese) decimals written with a point.
func leaks(text, lang string, dict map[string]map[string]string, reg *registry.Registry, people map[string]string, raw []string) []string {
	other := "en"
	if lang == "en" {
		other = "vi"
	}
	own := map[string]bool{}
	for _, v := range dict[lang] {
		for _, w := range words(v) {
			own[w] = true
		}
	}
	// Proper names, units and product words are the same in both.
	names := []string{reg.Province(), "IOC PM2.5 PM10 µg/m³ kbps km cm"}
	for _, d := range reg.Districts() {
		names = append(names, d.Name)
	}
	for _, d := range reg.Devices() {
		names = append(names, d.Name)
	}
	for _, n := range people {
		names = append(names, n)
	}
	for _, n := range names {
		for _, w := range words(n) {
			own[w] = true
		}
	}
	foreign := map[string]bool{}
	for _, v := range dict[other] {
		for _, w := range words(v) {
			if !own[w] && len([]rune(w)) >= 3 {
				foreign[w] = true
			}
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, w := range words(text) {
		if foreign[w] && !seen[w] {
			seen[w] = true
			out = append(out, "word "+w)
		}
	}
	lower := strings.ToLower(text)
	if lang == "vi" {
		// Event types, and English words a Vietnamese page once showed
		// ("Gateway": the Vietnamese word is "Bộ thu phát").
		raw = append(raw, "tamper", "intrusion", "blur", "blocked", "scene_change", "freeze", "overflow", "record_failed", "gateway")
	}
	for _, id := range raw {
		re := regexp.MustCompile(`(^|[^\p{L}\p{N}_-])` + regexp.QuoteMeta(strings.ToLower(id)) + `($|[^\p{L}\p{N}_-])`)
		if re.MatchString(lower) {
			out = append(out, "raw id "+id)
		}
	}
	if lang == "vi" {
		// "PM2.5" is the pollutant's name, as the dictionary writes it
		// (and as it is allowed among the English-looking words above),
		// not a number.
		if m := regexp.MustCompile(`\d\.\d{1,2}\b`).FindString(strings.ReplaceAll(text, "PM2.5", "PM")); m != "" {
			out = append(out, "decimal point "+m)
		}
	}
	return out
}

// TestVietnameseWallAndPhone: with the simulated incidents open (a
// tampered camera, an intrusion, image problems, a recorder dropping
// footage, a rising river, a sensor out of range, and district outages),
// the Vietnamese wall and phone show no English word, no raw identifier
// and no decimal point; the acknowledger is named ("Trực ban IOC"), the
// district alert by its district's name; every key exists in both
// languages (TestDictionariesCoverEverything) and the English wall shows
// no Vietnamese word of the dictionary.
func TestVietnameseWallAndPhone(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	sys := startIngest(t, fastSilenceRules(t))
	base := startIOC(t, iocConfig(t, sys, "vi"))
	reg, err := registry.Load(configs + "devices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	raw := []string{"district:", "telemetry.", "status.", "event.", "operator", "technician"}
	for _, d := range reg.Devices() {
		raw = append(raw, d.ID)
	}
	for _, d := range reg.Districts() {
		raw = append(raw, d.ID)
	}
	var prov struct{ People map[string]string }
	login(t, base, "viewer").get("/api/v1/province", &prov)
	if prov.People["operator"] != "Trực ban IOC" {
		t.Errorf("province people: %v", prov.People)
	}
	var cams, nvrs []string
	for _, d := range reg.Devices() {
		switch d.Kind {
		case registry.Camera:
			cams = append(cams, d.ID)
		case registry.NVR:
			nvrs = append(nvrs, d.ID)
		}
	}
	vms := integrator(t, sys, "vms-tn")
	env := integrator(t, sys, "envsense")
	for i, typ := range []string{"tamper", "intrusion", "blur", "scene_change", "freeze"} {
		vms(cams[i], "event", `{"type":"`+typ+`","zone":"ống kính"}`)
	}
	vms(nvrs[0], "event", `{"type":"overflow"}`)
	env("wl-cau-gia-bay", "telemetry", `{"water_level_cm":100.5}`)
	env("wl-cau-gia-bay", "telemetry", `{"water_level_cm":130.7}`)
	env("aq-tp-02", "telemetry", `{"pm25":1500.5}`)

	wall := chrome(t, 3840, 2160)
	loginPage(t, wall, base, "operator", "/wall/", `body[data-connected="yes"]`)
	tamper := `#feed li[data-alert="camera-tamper/` + cams[0] + `"]`
	run(t, wall, 30*time.Second,
		chromedp.WaitVisible(tamper),
		chromedp.WaitVisible(`#feed li[data-alert="water-rising/wl-cau-gia-bay"]`),
		chromedp.WaitVisible(`#feed li[data-alert^="device-offline/district:"]`),
		chromedp.Click(tamper+" button.ack"),
		chromedp.WaitVisible(tamper+".acked"),
	)
	// The severity tiles count incidents (root-cause alerts) the way the
	// API lists them: alerts whose parent is not an open alert.
	var api struct {
		Alerts []struct{ ID, Severity, Parent string }
	}
	login(t, base, "viewer").get("/api/v1/alerts", &api)
	open := map[string]bool{}
	for _, a := range api.Alerts {
		open[a.ID] = true
	}
	want := map[string]int{"critical": 0, "major": 0, "minor": 0, "info": 0}
	for _, a := range api.Alerts {
		if a.Parent == "" || !open[a.Parent] {
			want[a.Severity]++
		}
	}
	wantJS, _ := json.Marshal(want)
	var tiles string
	err = chromedp.Run(wall, chromedp.Poll(`(() => { const o = {}; for (const e of document.querySelectorAll("#summary .tile[data-severity]")) o[e.dataset.severity] = +e.dataset.count;
		const s = JSON.stringify({critical: o.critical, info: o.info, major: o.major, minor: o.minor}); return s === `+"`"+string(wantJS)+"`"+` ? s : null })()`, &tiles, chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		var got string
		run(t, wall, 5*time.Second, chromedp.Evaluate(`JSON.stringify([...document.querySelectorAll("#summary .tile[data-severity]")].map((e) => [e.dataset.severity, e.dataset.count, e.dataset.devices]))`, &got))
		t.Errorf("severity tiles %s; the API's root-cause alerts %s", got, wantJS)
	}
	var dict map[string]map[string]string
	var js string
	run(t, wall, 5*time.Second, chromedp.Evaluate(`JSON.stringify(IOCDict)`, &js))
	if err := json.Unmarshal([]byte(js), &dict); err != nil {
		t.Fatal(err)
	}
	text := func() string {
		var s string
		run(t, wall, 5*time.Second, chromedp.Evaluate(`document.title + "\n" + document.body.innerText`, &s))
		return s
	}
	screenshot(t, wall, "wall-3840x2160-vietnamese")
	page := text()
	for _, l := range leaks(page, "vi", dict, reg, prov.People, raw) {
		t.Errorf("Vietnamese wall shows %s", l)
	}
	var tamperText string
	run(t, wall, 5*time.Second, chromedp.Text(tamper, &tamperText))
	// The headline says what happened first ("Phá hoại, che ống kính ·
	// Camera …").
	for _, want := range []string{"Phá hoại, che ống kính", "Trực ban IOC"} {
		if !strings.Contains(tamperText, want) {
			t.Errorf("tamper card %q lacks %q", tamperText, want)
		}
	}
	if !strings.Contains(page, "Mất kết nối diện rộng: ") {
		t.Errorf("no district outage on the wall")
	}

	run(t, wall, 5*time.Second, chromedp.Click("#lang"), chromedp.WaitVisible(`h2 [data-i18n="active_alerts"]`))
	for _, l := range leaks(text(), "en", dict, reg, prov.People, raw) {
		t.Errorf("English wall shows %s", l)
	}
	screenshot(t, wall, "wall-3840x2160-english")

	phone := chrome(t, 390, 844)
	run(t, phone, 10*time.Second, emulation.SetDeviceMetricsOverride(390, 844, 2, true))
	loginPage(t, phone, base, "technician", "/tech/", `body[data-connected="yes"]`)
	run(t, phone, 10*time.Second, chromedp.WaitVisible(`#alerts li[data-alert="water-rising/wl-cau-gia-bay"]`))
	phoneText := func() string {
		var s string
		run(t, phone, 5*time.Second, chromedp.Evaluate(`document.title + "\n" + document.body.innerText`, &s))
		return s
	}
	for _, l := range leaks(phoneText(), "vi", dict, reg, prov.People, raw) {
		t.Errorf("Vietnamese phone list shows %s", l)
	}
	screenshot(t, phone, "tech-390-vietnamese-list")
	run(t, phone, 10*time.Second,
		chromedp.Click(`#alerts li[data-alert="water-rising/wl-cau-gia-bay"] a`),
		chromedp.WaitVisible(`#charts .chart[data-field="water_level_cm"]`),
	)
	dev := phoneText()
	for _, l := range leaks(dev, "vi", dict, reg, prov.People, raw) {
		t.Errorf("Vietnamese device page shows %s", l)
	}
	if !strings.Contains(dev, "Mực nước (cm)") {
		t.Errorf("chart not labelled with the field's name and unit:\n%s", dev)
	}
	screenshot(t, phone, "tech-390-vietnamese-device")
}

// TestErrorsCarryCodes: each error answer carries a stable code the pages
// name in the user's language, besides its English text.
func TestErrorsCarryCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ingest and the IOC server")
	}
	sys := startIngest(t)
	base := startIOC(t, iocConfig(t, sys, "codes"))
	op := login(t, base, "operator")
	viewer := login(t, base, "viewer")
	for _, c := range []struct {
		name   string
		u      *user
		method string
		path   string
		body   any
		status int
		code   string
		header []string
	}{
		{"wrong password", from(t, base, "127.0.0.31"), "POST", "/api/v1/login", map[string]string{"username": "operator", "password": "x"}, 401, "login_failed", nil},
		{"unknown device", op, "GET", "/api/v1/devices/district:phu-luong", nil, 404, "device_not_found", nil},
		{"resolve without a note", op, "POST", "/api/v1/alerts/device-offline/cam-bvtw-01/resolve", map[string]string{"note": ""}, 400, "note_required", nil},
		{"closed alert", op, "POST", "/api/v1/alerts/device-offline/cam-bvtw-01/ack", map[string]string{"note": ""}, 404, "alert_not_active", nil},
		{"viewer acknowledges", viewer, "POST", "/api/v1/alerts/device-offline/cam-bvtw-01/ack", map[string]string{"note": ""}, 403, "forbidden", nil},
		{"no CSRF token", op, "POST", "/api/v1/alerts/device-offline/cam-bvtw-01/ack", map[string]string{"note": ""}, 403, "csrf", []string{"X-CSRF-Token", ""}},
		{"bad range", op, "GET", "/api/v1/devices/cam-bvtw-01/history?from=yesterday", nil, 400, "bad_range", nil},
	} {
		status, b := c.u.do(c.method, c.path, c.body, c.header...)
		var e struct{ Error, Code string }
		_ = json.Unmarshal(b, &e)
		if status != c.status || e.Code != c.code || e.Error == "" {
			t.Errorf("%s: %d %s; want %d with code %s and an English reason", c.name, status, b, c.status, c.code)
		}
	}
}
