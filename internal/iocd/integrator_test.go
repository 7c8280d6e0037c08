package iocd_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ioc-vn/ioc/internal/api"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// integratorDevicesJSON is GET /api/v1/integrator/devices.
type integratorDevicesJSON struct {
	Integrator struct{ ID, Name string }
	Devices    []struct {
		ID          string
		LastSeen    *time.Time `json:"last_seen"`
		LastPayload []string   `json:"last_payload"`
		Stored      struct{ Hour, Day int }
		Refused     struct{ Hour, Day int }
	}
}

type integratorErrorsJSON struct {
	Reports []struct{ Device, Reason, Error string }
}

// TestIntegratorRoleRefusedEverywhere: an integrator user is refused by
// every route of the operators' API (403, the stream included) and by
// /metrics, sees only its own integrator's devices and reports on its own
// routes, and no other role may use those.
func TestIntegratorRoleRefusedEverywhere(t *testing.T) {
	sys := startIngest(t)
	base := startIOC(t, iocConfig(t, sys, "integ-routes"))
	env := integrator(t, sys, "envsense")
	vms := integrator(t, sys, "vms-tn")
	env("aq-tp-01", "telemetry", `{"pm25": 12.5}`)
	env("aq-tp-01", "telemetry", `{"pm25": `) // refused: malformed_json
	vms("cam-bvtw-01", "status", `{"state": "sideways"}`)

	in := login(t, base, "envsense")
	fill := strings.NewReplacer("{id}", "cam-bvtw-01", "{rule}", "camera-tamper", "{device}", "cam-bvtw-01", "{target}", "device:cam-bvtw-01", "{channel}", "telemetry")
	for _, route := range api.Routes {
		method, path, _ := strings.Cut(route, " ")
		if strings.HasPrefix(path, "/api/v1/integrator/") {
			continue
		}
		switch path {
		case "/api/v1/login", "/api/v1/logout", "/api/v1/session", "/api/v1/kiosk/session":
			continue // open to every user: who am I, log in and out, a wall's credential exchanged
		}
		var body any
		if method != "GET" && method != "DELETE" {
			body = map[string]string{"note": "x"}
		}
		if status, b := in.do(method, fill.Replace(path), body); status != http.StatusForbidden {
			t.Errorf("integrator %s: %d %s, want 403", route, status, b)
		}
	}
	if status, _ := in.do("GET", "/metrics", nil); status != http.StatusUnauthorized {
		t.Errorf("integrator GET /metrics: %d, want 401", status)
	}
	var s struct{ Role, Integrator string }
	in.get("/api/v1/session", &s)
	if s.Role != "integrator" || s.Integrator != "envsense" {
		t.Errorf("session: %+v", s)
	}

	reg, err := registry.Load(configs + "devices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var own int
	for _, d := range reg.Devices() {
		if d.Integrator == "envsense" {
			own++
		}
	}
	var devs integratorDevicesJSON
	testenv.Eventually(t, 10*time.Second, func() error {
		in.get("/api/v1/integrator/devices", &devs)
		for _, d := range devs.Devices {
			if d.ID == "aq-tp-01" && d.Stored.Day >= 1 && d.Refused.Day == 1 {
				return nil
			}
		}
		return fmt.Errorf("aq-tp-01 not yet stored and refused once: %+v", devs.Devices)
	})
	if devs.Integrator.ID != "envsense" || len(devs.Devices) != own {
		t.Errorf("integrator %+v with %d devices, want envsense with %d", devs.Integrator, len(devs.Devices), own)
	}
	for _, d := range devs.Devices {
		if dev, _ := reg.Device(d.ID); dev == nil || dev.Integrator != "envsense" {
			t.Errorf("envsense sees %s", d.ID)
		}
	}
	var errs integratorErrorsJSON
	in.get("/api/v1/integrator/errors", &errs)
	if len(errs.Reports) != 1 || errs.Reports[0].Device != "aq-tp-01" || errs.Reports[0].Reason != "malformed_json" {
		t.Errorf("envsense's reports: %+v, want its one malformed_json and none of vms-tn's", errs.Reports)
	}
	// The answers' keys are the ones openapi.yaml describes.
	doc := loadOpenAPI(t)
	seen := map[string]bool{}
	for _, route := range []string{"/api/v1/integrator/devices", "/api/v1/integrator/errors"} {
		var v any
		in.get(route, &v)
		for _, e := range doc.undocumented(doc.response(t, route), v, "", seen) {
			t.Errorf("GET %s: key %s is not in openapi.yaml", route, e)
		}
	}
	for _, k := range []string{"integrator.name", "devices[].last_payload", "devices[].refused.day", "reports[].payload_head"} {
		if !seen[k] {
			t.Errorf("no %s in the answers, so the test did not check it", k)
		}
	}
	if status, b := in.do("POST", "/api/v1/integrator/validate/cam-bvtw-01/status", map[string]string{"state": "online"}); status != http.StatusForbidden || !strings.Contains(string(b), `"foreign_device"`) {
		t.Errorf("checking another integrator's device: %d %s, want 403 foreign_device", status, b)
	}

	for _, name := range []string{"viewer", "technician", "operator", "admin"} {
		u := login(t, base, name)
		for _, route := range []string{"GET /api/v1/integrator/devices", "GET /api/v1/integrator/errors", "POST /api/v1/integrator/validate/aq-tp-01/telemetry"} {
			method, path, _ := strings.Cut(route, " ")
			if status, b := u.do(method, path, map[string]float64{"pm25": 1}); status != http.StatusForbidden {
				t.Errorf("%s %s: %d %s, want 403", name, route, status, b)
			}
		}
	}
}

// TestIntegratorPageInChromium: envsense logs in and lands on its page:
// its devices with the last stored payload and counts, a refusal it
// caused in the recent errors, the payload check answering valid and
// invalid with ingest's reason and text, nothing of vms-tn's anywhere,
// and no English word or raw id outside the quoted server text.
func TestIntegratorPageInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	sys := startIngest(t)
	base := startIOC(t, iocConfig(t, sys, "integ-page"))
	env := integrator(t, sys, "envsense")
	vms := integrator(t, sys, "vms-tn")
	env("aq-tp-01", "telemetry", `{"pm25": 23.75, "pm10": 41}`)
	env("aq-tp-02", "telemetry", `{"pm25": "cao"}`) // refused: wrong_type
	vms("cam-bvtw-01", "telemetry", `not json`)     // vms-tn's refusal

	reg, err := registry.Load(configs + "devices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	page := chrome(t, 1600, 1200)
	loginPage(t, page, base, "envsense", "", `#device-rows tr[data-device="aq-tp-01"]`)
	row := `#device-rows tr[data-device="aq-tp-01"]`
	// The page refreshes every 10 s; reload until the stored point and
	// the refusal are in.
	testenv.Eventually(t, 30*time.Second, func() error {
		var stored, refused, payload string
		run(t, page, 10*time.Second, chromedp.Reload(), chromedp.WaitVisible(row),
			chromedp.Text(row+" .stored-day", &stored), chromedp.Text(row+" .last-payload", &payload),
			chromedp.Text(`#device-rows tr[data-device="aq-tp-02"] .refused-day`, &refused))
		if stored != "1" || refused != "1" || !strings.Contains(payload, "pm25=23.75") {
			return fmt.Errorf("stored %q, refused %q, payload %q", stored, refused, payload)
		}
		return nil
	})
	var payload, seen, reports, who string
	run(t, page, 10*time.Second, chromedp.Text(row+" .last-payload", &payload), chromedp.Text(row+" .last-seen", &seen),
		chromedp.Text("#error-rows", &reports), chromedp.Text("#who", &who))
	if who != "— Quan trắc môi trường Thái Nguyên" {
		t.Errorf("the page names its integrator %q", who)
	}
	for _, want := range []string{"telemetry,", "integrator=envsense", "pm10=41", "pm25=23.75"} {
		if !strings.Contains(payload, want) {
			t.Errorf("last payload %q lacks %q", payload, want)
		}
	}
	if !strings.Contains(seen, "vừa xong") {
		t.Errorf("last seen %q: want it just now", seen)
	}
	for _, want := range []string{"Trạm không khí KCN Gang Thép", "Sai kiểu dữ liệu", `"pm25"`} {
		if !strings.Contains(reports, want) {
			t.Errorf("recent errors %q lack %q", reports, want)
		}
	}

	// Check a payload: valid, then invalid with ingest's reason and text.
	var verdict, result string
	run(t, page, 20*time.Second,
		chromedp.SetValue("#check-device", "aq-tp-01", chromedp.ByQuery),
		chromedp.SetValue("#check-body", `{"pm25": 7.5}`, chromedp.ByQuery),
		chromedp.Click(`#check button[type="submit"]`),
		chromedp.WaitVisible("#check-result.valid"),
		chromedp.Text("#check-result", &result))
	if !strings.Contains(result, "Hợp lệ: sẽ lưu 1 điểm dữ liệu") || !strings.Contains(result, "pm25=7.5") {
		t.Errorf("valid check says %q", result)
	}
	run(t, page, 20*time.Second,
		chromedp.SetValue("#check-body", `{"pm25": [1, 2]}`, chromedp.ByQuery),
		chromedp.Click(`#check button[type="submit"]`),
		chromedp.WaitVisible("#check-result.invalid"),
		chromedp.Text("#check-result .verdict", &verdict),
		chromedp.Text("#check-result", &result))
	if !strings.Contains(verdict, "Không hợp lệ") || !strings.Contains(verdict, "Sai kiểu dữ liệu") {
		t.Errorf("invalid check's verdict %q", verdict)
	}
	// ingest's own text, as POST /v1/validate answers it
	if !strings.Contains(result, `"pm25"`) {
		t.Errorf("invalid check %q lacks ingest's explanation", result)
	}
	screenshot(t, page, "integrator-1600x1200-vietnamese")

	var all, translated, dictJSON string
	run(t, page, 10*time.Second,
		chromedp.Evaluate(`document.title + "\n" + document.body.innerText`, &all),
		chromedp.Evaluate(`(() => { const c = document.body.cloneNode(true); c.querySelectorAll('[translate="no"]').forEach((e) => e.remove()); c.querySelectorAll("textarea, option").forEach((e) => e.remove()); return document.title + "\n" + c.innerText; })()`, &translated),
		chromedp.Evaluate(`JSON.stringify(IOCDict)`, &dictJSON))
	for _, d := range reg.Devices() {
		if d.Integrator != "envsense" && (strings.Contains(all, d.Name) || strings.Contains(all, d.ID)) {
			t.Errorf("envsense's page shows %s's device %s (%s)", d.Integrator, d.ID, d.Name)
		}
	}
	if strings.Contains(all, "vms-tn") {
		t.Error("envsense's page names vms-tn")
	}
	var dict map[string]map[string]string
	if err := json.Unmarshal([]byte(dictJSON), &dict); err != nil {
		t.Fatal(err)
	}
	raw := []string{"telemetry", "status", "event"}
	for _, d := range reg.Devices() {
		raw = append(raw, d.ID)
	}
	for _, d := range reg.Districts() {
		raw = append(raw, d.ID)
	}
	for _, l := range leaks(translated, "vi", dict, reg, nil, raw) {
		t.Errorf("Vietnamese integrator page shows %s", l)
	}
}
