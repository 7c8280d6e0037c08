package iocd_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// TestWallNumbersAgreeWithAPI: the wall's tiles say what the API says.
// Severity tiles count root-cause alerts (as the feed shows them) and the
// devices affected; device tiles count online, offline and total per kind,
// and devices being installed apart, in their own "Đang lắp đặt" tile, not
// as offline. After an acknowledgement on the wall, both still agree.
func TestWallNumbersAgreeWithAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	// The shipped registry with one air station not installed yet.
	src, err := os.ReadFile(configs + "devices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const installing = "aq-songcong-01"
	body := strings.Replace(string(src), "{id: "+installing+", ", "{id: "+installing+", commissioning: true, ", 1)
	if body == string(src) {
		t.Fatalf("devices.yaml has no %s", installing)
	}
	reg := filepath.Join(t.TempDir(), "devices.yaml")
	if err := os.WriteFile(reg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	sys := startIngest(t, func(c *ingestd.Config) { c.Registry = reg })
	ic := iocConfig(t, sys, "numbers")
	ic.Registry = reg
	base := startIOC(t, ic)
	vms := integrator(t, sys, "vms-tn")
	env := integrator(t, sys, "envsense")
	for _, id := range []string{"nvr-bvtw", "cam-bvtw-01", "cam-bvtw-02", "cam-bvtw-03", "cam-ttyt-daitu-01"} {
		vms(id, "status", `{"state":"online","recording":true}`)
	}
	vms("cam-bvtw-01", "event", `{"type":"tamper","zone":"ống kính"}`)
	vms("cam-bvtw-02", "event", `{"type":"tamper","zone":"ống kính"}`)
	vms("cam-ttyt-daitu-01", "event", `{"type":"blur"}`)
	env("aq-tp-02", "telemetry", `{"pm25":1500}`)

	api := login(t, base, "viewer")
	wall := chrome(t, 3840, 2160)
	loginPage(t, wall, base, "operator", "/wall/", `body[data-connected="yes"]`)

	agree := func(when string) {
		t.Helper()
		testenv.Eventually(t, 20*time.Second, func() error {
			var alerts struct {
				Alerts []struct {
					ID, Severity, Parent string
					Ack                  *struct{ By string }
				}
			}
			var devices struct {
				Devices []struct{ Kind, Status string }
			}
			api.get("/api/v1/alerts", &alerts)
			api.get("/api/v1/devices", &devices)
			open := map[string]bool{}
			for _, a := range alerts.Alerts {
				open[a.ID] = true
			}
			type sev struct{ Count, Devices, Acked int }
			want := map[string]*sev{"critical": {}, "major": {}, "minor": {}, "info": {}}
			for _, a := range alerts.Alerts {
				s := want[a.Severity]
				s.Devices++
				if a.Parent == "" || !open[a.Parent] {
					s.Count++
					if a.Ack != nil {
						s.Acked++
					}
				}
			}
			type kind struct{ Online, Offline, Total, Commissioning int }
			wantK := map[string]*kind{}
			commissioning := 0
			for _, d := range devices.Devices {
				k := wantK[d.Kind]
				if k == nil {
					k = &kind{}
					wantK[d.Kind] = k
				}
				k.Total++
				switch d.Status {
				case "online":
					k.Online++
				case "offline":
					k.Offline++
				case "commissioning":
					k.Commissioning++
					commissioning++
				}
			}
			var js string
			run(t, wall, 5*time.Second, chromedp.Evaluate(`JSON.stringify([...document.querySelectorAll("#summary .tile")].map((e) => ({...e.dataset, label: e.querySelector(".label").textContent})))`, &js))
			var tiles []map[string]string
			if err := json.Unmarshal([]byte(js), &tiles); err != nil {
				return err
			}
			gotCommissioning := -1
			var problems []string
			for _, tl := range tiles {
				switch {
				case tl["severity"] != "":
					w := want[tl["severity"]]
					if got := fmt.Sprintf("%s/%s/%s", tl["count"], tl["devices"], tl["acked"]); got != fmt.Sprintf("%d/%d/%d", w.Count, w.Devices, w.Acked) {
						problems = append(problems, fmt.Sprintf("%s tile: incidents/devices/acked %s, API %+v", tl["severity"], got, *w))
					}
				case tl["kind"] != "":
					w := wantK[tl["kind"]]
					if got := fmt.Sprintf("%s/%s/%s/%s", tl["online"], tl["offline"], tl["total"], tl["commissioning"]); got != fmt.Sprintf("%d/%d/%d/%d", w.Online, w.Offline, w.Total, w.Commissioning) {
						problems = append(problems, fmt.Sprintf("%s tile: online/offline/total/commissioning %s, API %+v", tl["kind"], got, *w))
					}
				case tl["commissioning"] != "":
					_, _ = fmt.Sscan(tl["commissioning"], &gotCommissioning)
					if tl["label"] != "Đang lắp đặt" {
						problems = append(problems, fmt.Sprintf("commissioning tile says %q", tl["label"]))
					}
				}
			}
			if gotCommissioning != commissioning || commissioning != 1 {
				problems = append(problems, fmt.Sprintf("commissioning tile %d, API %d devices commissioning; want 1", gotCommissioning, commissioning))
			}
			if want["critical"].Count != 2 || want["major"].Count != 1 || want["minor"].Count != 1 {
				problems = append(problems, fmt.Sprintf("API alerts %+v %+v %+v: the incidents have not all arrived", *want["critical"], *want["major"], *want["minor"]))
			}
			if len(problems) > 0 {
				return fmt.Errorf("%s: %s", when, strings.Join(problems, "; "))
			}
			return nil
		})
	}
	agree("before acknowledging")
	screenshot(t, wall, "wall-3840x2160-numbers")
	run(t, wall, 10*time.Second, chromedp.Click(`#feed li[data-alert="camera-tamper/cam-bvtw-01"] button.ack`),
		chromedp.WaitVisible(`#summary .tile[data-severity="critical"][data-acked="1"]`))
	agree("after acknowledging one critical alert")
}
