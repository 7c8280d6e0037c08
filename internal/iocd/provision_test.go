package iocd_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/iocd"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// provisioned runs ingest and an IOC server as separate parts on copies
// of the shipped registry and credentials, the IOC server editing them
// and calling ingest's reload URL after each change.
func provisioned(t *testing.T) (base string, c *iocd.Config, broker string) {
	t.Helper()
	dir := t.TempDir()
	copyTo := func(name string) string { return copyConfig(t, dir, name) }
	ic := testenv.IngestConfig(t, configs, "devices.yaml")
	ic.Registry, ic.Credentials = copyTo("devices.yaml"), copyTo("credentials.yaml")
	in := testenv.StartIngest(t, ic, ingestd.Options{Log: quietLog(t)})
	c = iocConfig(t, &system{Broker: in.Broker, DataDir: in.DataDir}, "provision")
	c.Registry, c.Credentials = ic.Registry, ic.Credentials
	c.IngestReloadURL = "http://" + in.HTTP + "/-/reload"
	return startIOC(t, c), c, in.Broker
}

// TestProvisioningPage (issue 17): an admin onboards an integrator on the
// admin page in headless Chromium: adds it with an account whose secret
// is shown once; imports a CSV whose row 3 names an unknown district, and
// the dry run shows that row, column and problem in Vietnamese with
// nothing changed; imports the fixed file; makes the new sensor's own
// secret on the page. The sensor is then served by the API, and a reading
// published over MQTT with that secret is stored, without a restart of
// ingest or the IOC server. Every change is in the audit log, no secret
// is.
func TestProvisioningPage(t *testing.T) {
	base, c, broker := provisioned(t)
	dir := t.TempDir()
	const dev = "aq-antoan-01"
	header := "Mã thiết bị;Loại;Tên;Huyện/TP;Đơn vị tích hợp;Thiết bị cha;Vĩ độ;Kinh độ;Khung hình/giây;Bitrate (kbps);Đang lắp đặt\n"
	good := "nvr-antoan-01;Đầu ghi;Đầu ghi An Toàn 01;TP. Thái Nguyên;antoan-tn;;21,59;105,84;;;có\n"
	bad := header + good + dev + ";Cảm biến;Quan trắc không khí An Toàn 01;Hà Nội;antoan-tn;;21,59;105,84;;;\n"
	fixed := header + good + dev + ";Cảm biến;Quan trắc không khí An Toàn 01;TP. Thái Nguyên;antoan-tn;;21,59;105,84;;;\n"
	badFile, fixedFile := filepath.Join(dir, "thiet-bi-loi.csv"), filepath.Join(dir, "thiet-bi.csv")
	for p, s := range map[string]string{badFile: bad, fixedFile: fixed} {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	regBefore, _ := os.ReadFile(c.Registry)

	ctx := chrome(t, 1400, 1000)
	errs := testenv.JSErrors(ctx)
	loginPage(t, ctx, base, "admin", "/admin/devices/", `body[data-loaded="1"]`)

	// The integrator, with its account: the secret is on the page once.
	var intSecret string
	run(t, ctx, 30*time.Second,
		chromedp.SendKeys("#int-id", "antoan-tn"),
		chromedp.SendKeys("#int-name", "Công ty An Toàn Thái Nguyên"),
		chromedp.Click("#int-add"),
		chromedp.WaitVisible(`#integrators tr[data-id="antoan-tn"]`),
		chromedp.WaitVisible("#secret"),
		chromedp.Text("#secret-value", &intSecret),
		chromedp.Click("#secret-done"),
		chromedp.WaitNotVisible("#secret"),
	)
	if len(intSecret) != 32 {
		t.Fatalf("integrator secret %q", intSecret)
	}

	// The dry run of the bad file: row 3, column Huyện/TP, in Vietnamese.
	var rows [][]string
	var summary string
	run(t, ctx, 30*time.Second,
		chromedp.SetUploadFiles("#import-file", []string{badFile}),
		chromedp.Click("#import-check"),
		chromedp.WaitVisible(`#import-report[data-state="errors"] #import-errors`),
		chromedp.Text("#import-summary", &summary),
		chromedp.Evaluate(`[...document.querySelectorAll("#import-errors tbody tr")].map(tr => [...tr.cells].map(td => td.textContent))`, &rows),
	)
	if len(rows) != 1 || rows[0][0] != "3" || rows[0][1] != "Huyện/TP" || !strings.HasPrefix(rows[0][2], `Không có huyện/thành phố "Hà Nội"`) {
		t.Fatalf("dry-run rows %q", rows)
	}
	if !strings.Contains(summary, "1 lỗi") || !strings.Contains(summary, "chưa có gì thay đổi") {
		t.Errorf("dry-run summary %q", summary)
	}
	// The same report in English.
	var en [][]string
	var fileName string
	run(t, ctx, 10*time.Second,
		chromedp.Click("#lang"),
		chromedp.WaitVisible(`html[lang="en"]`),
		chromedp.Evaluate(`[...document.querySelectorAll("#import-errors tbody tr")].map(tr => [...tr.cells].map(td => td.textContent))`, &en),
		chromedp.Text("#import-name", &fileName),
		chromedp.Click("#lang"),
		chromedp.WaitVisible(`html[lang="vi"]`),
	)
	if len(en) != 1 || !strings.HasPrefix(en[0][2], `no district "Hà Nội"`) || fileName != "thiet-bi-loi.csv" {
		t.Errorf("English dry-run rows %q, file name %q", en, fileName)
	}
	if now, _ := os.ReadFile(c.Registry); strings.Contains(string(now), "nvr-antoan-01") {
		t.Fatal("a dry run with errors wrote the registry")
	}

	// The fixed file: a clean dry run, then the import.
	run(t, ctx, 30*time.Second,
		chromedp.SetUploadFiles("#import-file", []string{fixedFile}),
		chromedp.Click("#import-check"),
		chromedp.WaitVisible(`#import-report[data-state="ok"]`),
		chromedp.Click("#import-apply"),
		chromedp.WaitVisible(`#import-report[data-state="applied"]`),
		chromedp.WaitVisible(`#devices tr[data-id="`+dev+`"]`),
		chromedp.Text("#import-summary", &summary),
	)
	if summary != "Đã nhập 2 thiết bị vào sổ thiết bị." {
		t.Errorf("import summary %q", summary)
	}

	// The sensor's own account, its secret shown once.
	var devSecret, devUser string
	run(t, ctx, 30*time.Second,
		chromedp.Click(`#devices tr[data-id="`+dev+`"] .secret-btn`),
		chromedp.WaitVisible("#secret"),
		chromedp.Text("#secret-value", &devSecret),
		chromedp.Text("#secret-user", &devUser),
	)
	if devUser != dev || len(devSecret) != 32 || devSecret == intSecret {
		t.Fatalf("device account %q secret %q", devUser, devSecret)
	}
	if e := errs(); len(e) > 0 {
		t.Errorf("page errors: %q", e)
	}
	screenshot(t, ctx, "admin-provisioning")

	// In Vietnamese: no English word, no district id (districts by name),
	// no decimal point.
	var text, js string
	run(t, ctx, 10*time.Second,
		chromedp.Click("#secret-done"),
		chromedp.WaitNotVisible("#secret"),
		chromedp.Evaluate(`document.body.innerText`, &text),
		chromedp.Evaluate(`JSON.stringify(IOCDict)`, &js),
	)
	var dict map[string]map[string]string
	if err := json.Unmarshal([]byte(js), &dict); err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Load(c.Registry)
	if err != nil {
		t.Fatal(err)
	}
	var districtIDs []string
	for _, d := range reg.Districts() {
		districtIDs = append(districtIDs, d.ID)
	}
	if l := leaks(text, "vi", dict, reg, nil, districtIDs); len(l) > 0 {
		t.Errorf("the Vietnamese page shows %v", l)
	}

	// The files: the new lines only, one device per line.
	regAfter, _ := os.ReadFile(c.Registry)
	for _, want := range []string{
		`  - {id: antoan-tn, name: "Công ty An Toàn Thái Nguyên"}`,
		`  - {id: ` + dev + `, kind: sensor, name: "Quan trắc không khí An Toàn 01", district: tp-thai-nguyen, integrator: antoan-tn, lat: 21.59, lon: 105.84}`,
	} {
		if !strings.Contains(string(regAfter), "\n"+want+"\n") {
			t.Errorf("registry lacks the line %s", want)
		}
	}
	if !strings.HasPrefix(string(regAfter), string(regBefore[:strings.Index(string(regBefore), "integrators:")])) {
		t.Error("the registry's head (comments, districts) changed")
	}
	creds, _ := os.ReadFile(c.Credentials)
	if strings.Contains(string(creds), devSecret) || strings.Contains(string(creds), intSecret) {
		t.Fatal("a secret is stored in clear")
	}

	admin := login(t, base, "admin")
	if code, body := admin.do("GET", "/api/v1/devices/"+dev, nil); code != http.StatusOK {
		t.Fatalf("GET /api/v1/devices/%s: %d %s", dev, code, body)
	}

	// A reading with the generated secret is stored, as is one from the
	// integrator's account.
	publish(t, broker, dev, devSecret, "ioc/v1/antoan-tn/"+dev+"/telemetry", `{"pm25": 12.5}`)
	publish(t, broker, "antoan-tn", intSecret, "ioc/v1/antoan-tn/nvr-antoan-01/status", `{"state": "online", "recording": true, "storage_pct": 40}`)
	testenv.Eventually(t, 20*time.Second, func() error {
		var h struct {
			Series []struct {
				Field   string `json:"field"`
				Samples []struct {
					Mean *float64 `json:"mean"`
				} `json:"samples"`
			} `json:"series"`
		}
		code, body := admin.do("GET", "/api/v1/devices/"+dev+"/history?measurement=telemetry&from="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), nil)
		if code != http.StatusOK {
			return fmt.Errorf("history %d %s", code, body)
		}
		if err := json.Unmarshal(body, &h); err != nil {
			return err
		}
		for _, s := range h.Series {
			for _, p := range s.Samples {
				if s.Field == "pm25" && p.Mean != nil && *p.Mean == 12.5 {
					return nil
				}
			}
		}
		return fmt.Errorf("pm25 12.5 not stored yet: %s", body)
	})
	testenv.Eventually(t, 20*time.Second, func() error {
		var l struct {
			Devices []deviceJSON `json:"devices"`
		}
		admin.get("/api/v1/devices", &l)
		for _, d := range l.Devices {
			if d.ID == dev {
				return nil
			}
		}
		return fmt.Errorf("%s not in GET /api/v1/devices", dev)
	})

	var audit struct {
		Entries []struct{ Action, User, Target, Result string }
	}
	admin.get("/api/v1/audit", &audit)
	var got []string
	for i := len(audit.Entries) - 1; i >= 0; i-- {
		e := audit.Entries[i]
		if e.Action == "integrator_add" || e.Action == "devices_import" || e.Action == "secret_device" {
			got = append(got, e.Action+" "+e.User+" "+e.Target+" "+e.Result)
		}
	}
	want := "integrator_add admin antoan-tn ok|devices_import admin nvr-antoan-01," + dev + " ok|secret_device admin " + dev + " ok"
	if strings.Join(got, "|") != want {
		t.Errorf("audit %q, want %q", got, want)
	}
	raw, _ := os.ReadFile(c.AuditLog)
	if strings.Contains(string(raw), devSecret) || strings.Contains(string(raw), intSecret) {
		t.Error("a secret is in the audit log")
	}
}

// publish connects as username with secret and publishes one message at
// QoS 1, failing the test if the broker refuses either.
func publish(t *testing.T, broker, username, secret, topic, body string) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(broker).SetClientID(username + "-test").SetUsername(username).SetPassword(secret).
		SetCleanSession(true).SetConnectTimeout(5 * time.Second).SetAutoReconnect(false)
	cl := paho.NewClient(o)
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect as %s: %v", username, tok.Error())
	}
	defer cl.Disconnect(100)
	if tok := cl.Publish(topic, 1, false, body); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// TestProvisioningAPI (issue 17): only admins provision, with the CSRF
// token; a change the registry refuses comes back with its line and
// writes nothing; conflicts are 409; disabling an integrator closes its
// open connection and refuses the next, enabling lets it in again; a
// rotated secret replaces the old one at once; every change, refused or
// not, is audited.
func TestProvisioningAPI(t *testing.T) {
	base, c, broker := provisioned(t)
	admin, operator := login(t, base, "admin"), login(t, base, "operator")
	if code, _ := operator.do("GET", "/api/v1/admin/integrators", nil); code != http.StatusForbidden {
		t.Errorf("operator listing integrators: %d, want 403", code)
	}
	if code, _ := admin.do("POST", "/api/v1/admin/integrators", map[string]any{"id": "x", "name": "X"}, "X-CSRF-Token", ""); code != http.StatusForbidden {
		t.Errorf("no CSRF token: %d, want 403", code)
	}

	reg0, _ := os.ReadFile(c.Registry)
	code, body := admin.do("POST", "/api/v1/admin/devices", map[string]any{"id": "aq-x-01", "kind": "sensor", "name": "X", "district": "ha-noi", "integrator": "envsense", "lat": 21.5, "lon": 105.8})
	var refused struct{ Errors []string }
	_ = json.Unmarshal(body, &refused)
	if code != http.StatusUnprocessableEntity || len(refused.Errors) != 1 || !strings.Contains(refused.Errors[0], `line `) || !strings.Contains(refused.Errors[0], `district "ha-noi" is not in districts`) {
		t.Fatalf("a device in an unknown district: %d %s", code, body)
	}
	if reg, _ := os.ReadFile(c.Registry); string(reg) != string(reg0) {
		t.Fatal("a refused change wrote the registry")
	}
	if code, body := admin.do("POST", "/api/v1/admin/integrators", map[string]any{"id": "vms-tn", "name": "Again"}); code != http.StatusConflict {
		t.Errorf("a second vms-tn: %d %s, want 409", code, body)
	}
	if code, body := admin.do("DELETE", "/api/v1/admin/devices/nvr-bvtw", nil); code != http.StatusConflict {
		t.Errorf("deleting a parent: %d %s, want 409", code, body)
	}

	var made struct{ Username, Secret string }
	code, body = admin.do("POST", "/api/v1/admin/integrators", map[string]any{"id": "antoan-tn", "name": "Công ty An Toàn", "account": true})
	if code != http.StatusCreated || json.Unmarshal(body, &made) != nil || made.Username != "antoan-tn" || len(made.Secret) != 32 {
		t.Fatalf("add integrator: %d %s", code, body)
	}
	lost := make(chan error, 1)
	o := paho.NewClientOptions().AddBroker(broker).SetClientID("antoan-gw").SetUsername("antoan-tn").SetPassword(made.Secret).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err })
	cl := paho.NewClient(o)
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect with the new secret: %v", tok.Error())
	}
	defer cl.Disconnect(100)
	if code, body := admin.do("POST", "/api/v1/admin/integrators/antoan-tn/disable", map[string]any{"disabled": true}); code != http.StatusOK {
		t.Fatalf("disable: %d %s", code, body)
	}
	select {
	case <-lost:
	case <-time.After(15 * time.Second):
		t.Fatal("the disabled integrator's connection stayed open")
	}
	connect := func(secret string) error {
		cl := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID("antoan-gw2").SetUsername("antoan-tn").SetPassword(secret).
			SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
		tok := cl.Connect()
		if !tok.WaitTimeout(10 * time.Second) {
			return fmt.Errorf("connect timed out")
		}
		if tok.Error() == nil {
			cl.Disconnect(50)
		}
		return tok.Error()
	}
	if err := connect(made.Secret); err == nil {
		t.Error("a disabled integrator connected")
	}
	if code, body := admin.do("POST", "/api/v1/admin/integrators/antoan-tn/disable", map[string]any{"disabled": false}); code != http.StatusOK {
		t.Fatalf("enable: %d %s", code, body)
	}
	if err := connect(made.Secret); err != nil {
		t.Errorf("the enabled integrator: %v", err)
	}
	var rotated struct{ Username, Secret string }
	code, body = admin.do("POST", "/api/v1/admin/integrators/antoan-tn/secret", nil)
	if code != http.StatusOK || json.Unmarshal(body, &rotated) != nil || rotated.Secret == made.Secret || len(rotated.Secret) != 32 {
		t.Fatalf("rotate: %d %s", code, body)
	}
	if err := connect(made.Secret); err == nil {
		t.Error("the old secret still works after the rotation")
	}
	if err := connect(rotated.Secret); err != nil {
		t.Errorf("the rotated secret: %v", err)
	}

	// The Excel template, as a dry run: its two devices, nothing written.
	req, _ := http.NewRequest("GET", base+"/api/v1/admin/devices/template?format=xlsx", nil)
	r, err := admin.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var xlsx strings.Builder
	_, _ = io.Copy(&xlsx, r.Body)
	r.Body.Close()
	req, _ = http.NewRequest("POST", base+"/api/v1/admin/devices/import?dry_run=true", strings.NewReader(xlsx.String()))
	req.Header.Set("Origin", base)
	req.Header.Set("X-CSRF-Token", admin.csrf)
	r, err = admin.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Rows    int
		Devices []string
		Applied bool
		Errors  []any
	}
	err = json.NewDecoder(r.Body).Decode(&rep)
	r.Body.Close()
	if err != nil || r.StatusCode != 200 || rep.Rows != 2 || strings.Join(rep.Devices, ",") != "nvr-vidu-01,cam-vidu-01" || rep.Applied || len(rep.Errors) != 0 {
		t.Fatalf("dry run of the Excel template: %d %+v %v", r.StatusCode, rep, err)
	}
	if reg, _ := os.ReadFile(c.Registry); strings.Contains(string(reg), "nvr-vidu-01") {
		t.Error("a dry run wrote the registry")
	}

	// 60 sensors imported at once: all in force, the audit entry names the
	// first 50.
	var list strings.Builder
	list.WriteString("id,kind,name,district,integrator,lat,lon\n")
	for i := 1; i <= 60; i++ {
		fmt.Fprintf(&list, "aq-lo-%02d,sensor,Trạm không khí lô %d,tp-thai-nguyen,envsense,21.59,105.84\n", i, i)
	}
	req, _ = http.NewRequest("POST", base+"/api/v1/admin/devices/import", strings.NewReader(list.String()))
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Origin", base)
	req.Header.Set("X-CSRF-Token", admin.csrf)
	r, err = admin.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(r.Body).Decode(&rep)
	r.Body.Close()
	if err != nil || r.StatusCode != 200 || !rep.Applied || len(rep.Devices) != 60 {
		t.Fatalf("import of 60: %d %+v %v", r.StatusCode, rep, err)
	}
	if code, _ := admin.do("GET", "/api/v1/devices/aq-lo-60", nil); code != http.StatusOK {
		t.Errorf("the 60th imported device: %d", code)
	}

	// The listings' keys are the ones openapi.yaml describes.
	doc := loadOpenAPI(t)
	for _, c := range []struct{ path, route, want string }{
		{"/api/v1/admin/integrators", "/api/v1/admin/integrators", "integrators[].accounts[].disabled"},
		{"/api/v1/admin/devices", "/api/v1/admin/devices", "devices[].account.username"},
	} {
		var v any
		admin.get(c.path, &v)
		seen := map[string]bool{}
		for _, k := range doc.undocumented(doc.response(t, c.route), v, "", seen) {
			t.Errorf("GET %s: key %s is not in openapi.yaml", c.path, k)
		}
		if !seen[c.want] {
			t.Errorf("GET %s: no %s in the answer", c.path, c.want)
		}
	}

	var audit struct {
		Entries []struct{ Action, User, Target, Result string }
	}
	admin.get("/api/v1/audit", &audit)
	var got []string
	for i := len(audit.Entries) - 1; i >= 0; i-- {
		if e := audit.Entries[i]; e.Action != "login" {
			got = append(got, e.Action+" "+e.Target+" "+strings.SplitN(e.Result, ":", 2)[0])
		}
	}
	var ids []string
	for i := 1; i <= 50; i++ {
		ids = append(ids, fmt.Sprintf("aq-lo-%02d", i))
	}
	first50 := strings.Join(ids, ",")
	want := "device_add aq-x-01 refused|integrator_add vms-tn refused|device_delete nvr-bvtw refused|integrator_add antoan-tn ok|" +
		"integrator_disable antoan-tn ok|integrator_enable antoan-tn ok|secret_integrator antoan-tn ok|devices_import " + first50 + ",… (+10) ok"
	if strings.Join(got, "|") != want {
		t.Errorf("audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.ReplaceAll(want, "|", "\n"))
	}
}
