package iocd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// openAlert is an alert as GET /api/v1/alerts lists it.
type openAlert struct {
	ID, Severity, District, Device, Parent string
	Suppressed                             bool
}

// smallTargets is JS listing the visible interactive elements smaller than
// 48×48 CSS px (Android's 48 dp; iOS asks 44 pt).
const smallTargets = `JSON.stringify([...document.querySelectorAll("a, button, select, summary, label.check")].filter((e) => {
	const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0 && (r.width < 48 || r.height < 48);
}).map((e) => (e.id || e.className || e.tagName) + " " + JSON.stringify((e.textContent || "").trim().slice(0, 30)) + " " + Math.round(e.getBoundingClientRect().width) + "x" + Math.round(e.getBoundingClientRect().height)))`

// TestPhoneFoldsAndFindsTheDevice: the technician's phone at 390×844 and
// 360×740, with a saved district (TP. Sông Công), during a recorder outage
// (nvr-bvtw and its 6 cameras), a district outage (Đại Từ), a tampered
// camera in Sông Công and a rising river in Phổ Yên:
//   - the list is folded by root cause like the wall: the recorder's card
//     with "+6 camera" that opens to the cameras, no camera as a card of
//     its own; the count is the API's root-cause alerts;
//   - most severe first and, within a severity, my district first;
//   - the device page shows the device in the URL, even one outside my
//     district opened after one inside it (its name, its critical alert);
//   - the district alert opens the district's page with its offline
//     devices, each a link to its page;
//   - every touch target is at least 48×48;
//   - resolving names the alert and, while the device is still offline,
//     asks for an explicit confirmation; success is said;
//   - a refused geolocation is said in Vietnamese on the page.
func TestPhoneFoldsAndFindsTheDevice(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	sys := startIngest(t)
	base := startIOC(t, iocConfig(t, sys, "phone"))
	reg, err := registry.Load(configs + "devices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	send := map[string]func(device, channel, body string){}
	for _, name := range []string{"vms-tn", "envsense"} {
		send[name] = integrator(t, sys, name)
	}
	pub := func(d *registry.Device, channel, body string) {
		f := send[d.Integrator]
		if f == nil {
			t.Fatalf("device %s of integrator %s", d.ID, d.Integrator)
		}
		f(d.ID, channel, body)
	}
	for _, d := range reg.Devices() {
		pub(d, "status", `{"state":"online"}`)
	}
	const mine, outage, nvr = "tp-song-cong", "dai-tu", "nvr-bvtw"
	var nvrCams []string
	tampered := &registry.Device{}
	name := map[string]string{}
	for _, d := range reg.Devices() {
		name[d.ID] = d.Name
		if d.Parent == nvr {
			nvrCams = append(nvrCams, d.ID)
		}
		if d.District == mine && d.Kind == registry.Camera && tampered.ID == "" {
			tampered = d
		}
	}
	dev := func(id string) *registry.Device { d, _ := reg.Device(id); return d }
	pub(dev(nvr), "status", `{"state":"offline"}`)
	for _, c := range nvrCams {
		pub(dev(c), "status", `{"state":"offline"}`)
	}
	var outageDevices []string
	for _, d := range reg.Devices() {
		if d.District == outage {
			outageDevices = append(outageDevices, d.ID)
			pub(d, "status", `{"state":"offline"}`)
		}
	}
	pub(tampered, "event", `{"type":"tamper","zone":"ống kính"}`)
	for _, v := range []int{90, 95, 100, 140} {
		pub(dev("wl-phoyen-01"), "telemetry", fmt.Sprintf(`{"water_level_cm":%d}`, v))
	}
	districtAlert := "device-offline/district:" + outage
	wantOpen := []string{"device-offline/" + nvr, districtAlert, "camera-tamper/" + tampered.ID, "water-rising/wl-phoyen-01"}
	viewer := login(t, base, "viewer")
	var alerts []openAlert
	testenv.Eventually(t, 30*time.Second, func() error {
		var r struct{ Alerts []openAlert }
		viewer.get("/api/v1/alerts", &r)
		alerts = r.Alerts
		open := map[string]openAlert{}
		for _, a := range alerts {
			open[a.ID] = a
		}
		for _, id := range wantOpen {
			if _, ok := open[id]; !ok {
				return fmt.Errorf("no open alert %s", id)
			}
		}
		for _, c := range nvrCams {
			if open["device-offline/"+c].Parent != "device-offline/"+nvr {
				return fmt.Errorf("camera %s not folded under its recorder", c)
			}
		}
		return nil
	})
	open := map[string]openAlert{}
	for _, a := range alerts {
		open[a.ID] = a
	}
	roots := 0
	for _, a := range alerts {
		if !a.Suppressed && (a.Parent == "" || open[a.Parent].ID == "") {
			roots++
		}
	}

	for i, size := range []struct{ w, h int }{{390, 844}, {360, 740}} {
		last := i == 1
		t.Run(fmt.Sprintf("%dx%d", size.w, size.h), func(t *testing.T) {
			tag := fmt.Sprintf("tech-%d", size.w)
			phone := chrome(t, size.w, size.h)
			run(t, phone, 10*time.Second,
				emulation.SetDeviceMetricsOverride(int64(size.w), int64(size.h), 2, true),
				browser.SetPermission(&browser.PermissionDescriptor{Name: "geolocation"}, browser.PermissionSettingDenied).WithOrigin(base),
			)
			loginPage(t, phone, base, "technician", "/tech/", `body[data-connected="yes"]`)
			// The technician saved Sông Công as their district earlier.
			run(t, phone, 20*time.Second,
				chromedp.Evaluate(`localStorage.setItem("ioc.tech.district", "`+mine+`")`, nil),
				chromedp.Reload(),
				chromedp.WaitVisible(`body[data-connected="yes"]`),
				chromedp.WaitVisible(`#alerts li[data-alert="camera-tamper/`+tampered.ID+`"]`),
			)

			// Folded by root cause.
			nvrCard := `#alerts > li[data-alert="device-offline/` + nvr + `"]`
			var summary string
			err := chromedp.Run(phone, chromedp.Poll(`(() => { const e = document.querySelector('`+nvrCard+` details.folded summary'); return e ? e.textContent : null })()`, &summary, chromedp.WithPollingTimeout(10*time.Second)))
			if err != nil {
				t.Fatalf("the recorder's card has no folded list of its cameras: %v", err)
			}
			if want := fmt.Sprintf("+%d camera", len(nvrCams)); summary != want {
				t.Errorf("recorder's card says %q; want %q", summary, want)
			}
			if n := count(t, phone, `[...document.querySelectorAll("#alerts > li")].filter((li) => /^device-offline\/cam-bvtw-/.test(li.dataset.alert)).length`); n != 0 {
				t.Errorf("%d of the recorder's cameras are listed as cards of their own", n)
			}
			if n := count(t, phone, `[...document.querySelectorAll("#alerts > li[data-alert]")].filter((li) => li.dataset.alert.startsWith("device-offline/") && li.dataset.alert !== "`+districtAlert+`" && document.querySelector("#alerts > li[data-alert='`+districtAlert+`']") && `+jsList(outageDevices)+`.includes(li.dataset.alert.slice(15))).length`); n != 0 {
				t.Errorf("%d devices of the district outage are listed as cards of their own", n)
			}
			// The district's card counts and lists everything folded under
			// it, however deep (its recorder's cameras too), as the wall does.
			distCard := `#alerts > li[data-alert="` + districtAlert + `"]`
			var distSummary string
			if err := chromedp.Run(phone, chromedp.Poll(`(() => { const e = document.querySelector('`+distCard+` details.folded summary'); return e ? e.textContent : null })()`, &distSummary, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
				t.Fatalf("the district's card has no folded list: %v", err)
			}
			if want := fmt.Sprintf("+%d thiết bị", len(outageDevices)); distSummary != want {
				t.Errorf("district's card says %q; want %q (every device of the outage)", distSummary, want)
			}
			if n := count(t, phone, `document.querySelectorAll('`+distCard+` details.folded li[data-alert] a[href^="#/device/"]').length`); n != len(outageDevices) {
				t.Errorf("the district's folded list links %d devices; want %d", n, len(outageDevices))
			}
			var badge string
			run(t, phone, 5*time.Second, chromedp.Text("#count", &badge))
			if badge != fmt.Sprint(roots) {
				t.Errorf("the list counts %s; the API has %d root-cause alerts", badge, roots)
			}
			run(t, phone, 10*time.Second, tap(nvrCard+" details.folded summary"),
				chromedp.WaitVisible(nvrCard+` details.folded li[data-alert="device-offline/`+nvrCams[0]+`"] a`))
			if n := count(t, phone, `document.querySelectorAll('`+nvrCard+` details.folded li[data-alert] a[href^="#/device/cam-bvtw-"]').length`); n != len(nvrCams) {
				t.Errorf("the opened list shows %d cameras; want %d", n, len(nvrCams))
			}

			// Most severe first; my district first within a severity.
			var order []string
			var js string
			run(t, phone, 5*time.Second, chromedp.Evaluate(`JSON.stringify([...document.querySelectorAll("#alerts > li[data-alert]")].map((li) => li.dataset.alert))`, &js))
			if err := json.Unmarshal([]byte(js), &order); err != nil {
				t.Fatal(err)
			}
			rank := map[string]int{"critical": 0, "major": 1, "minor": 2, "info": 3}
			for j := 1; j < len(order); j++ {
				a, b := open[order[j-1]], open[order[j]]
				if rank[a.Severity] > rank[b.Severity] {
					t.Errorf("%s (%s) before %s (%s)", a.ID, a.Severity, b.ID, b.Severity)
				}
				if a.Severity == b.Severity && a.District != mine && b.District == mine {
					t.Errorf("within %s, %s (%s) before %s of my district", a.Severity, a.ID, a.District, b.ID)
				}
			}
			if len(order) == 0 || order[0] != "camera-tamper/"+tampered.ID {
				t.Errorf("first card %v; want my district's critical tamper", order[:min(3, len(order))])
			}
			if bad := smallTargetsOn(t, phone); len(bad) > 0 {
				t.Errorf("list: touch targets under 48×48: %v", bad)
			}
			if w := count(t, phone, `document.documentElement.scrollWidth`); w > size.w {
				t.Errorf("page is %d px wide on a %d px phone", w, size.w)
			}
			screenshot(t, phone, tag+"-folded")

			// A refused location is said on the page, in Vietnamese.
			var geo string
			run(t, phone, 10*time.Second, chromedp.Click("#nearest"), chromedp.WaitVisible("#toast"), chromedp.Text("#toast", &geo))
			if geo != "Chưa cho phép truy cập vị trí" {
				t.Errorf("refused geolocation says %q", geo)
			}

			// The device in the URL, every time: one in my district, then
			// one outside it.
			devName := func(want string) {
				t.Helper()
				var got string
				err := chromedp.Run(phone, chromedp.Poll(`(() => { const s = document.querySelector("#dev-name").textContent; return s === `+jsString(want)+` ? s : null })()`, &got, chromedp.WithPollingTimeout(10*time.Second)))
				if err != nil {
					run(t, phone, 5*time.Second, chromedp.Text("#dev-name", &got, chromedp.NodeVisible))
					t.Errorf("device page named %q; want %q", got, want)
				}
			}
			run(t, phone, 10*time.Second, chromedp.Evaluate(`location.hash = "#/device/nvr-chot-songcong"`, nil), chromedp.WaitVisible("#device-view"))
			devName(name["nvr-chot-songcong"])
			run(t, phone, 10*time.Second, chromedp.Evaluate(`location.hash = "#/device/wl-phoyen-01"`, nil))
			devName(name["wl-phoyen-01"])
			water := `#dev-alerts li[data-alert="water-rising/wl-phoyen-01"] button.resolve`
			if err := chromedp.Run(phone, chromedp.Poll(`document.querySelector('`+water+`')`, nil, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
				var s string
				run(t, phone, 5*time.Second, chromedp.Text("#dev-alerts", &s))
				t.Errorf("the river sensor's page does not offer its open critical alert: %q", s)
			}
			var status string
			run(t, phone, 5*time.Second, chromedp.AttributeValue("#dev-meta", "data-status", &status, nil))
			if status != "online" {
				t.Errorf("the river sensor's status is shown as %q", status)
			}
			screenshot(t, phone, tag+"-device-outside-my-district")

			// Resolving a recorder still offline: named, warned, refused
			// without the confirmation.
			nvrResolve := `#dev-alerts li[data-alert="device-offline/` + nvr + `"] button.resolve`
			run(t, phone, 20*time.Second,
				chromedp.Evaluate(`location.hash = "#/device/`+nvr+`"`, nil),
				chromedp.WaitVisible(nvrResolve),
				chromedp.Click(nvrResolve),
				chromedp.WaitVisible("#resolve-warn"),
			)
			var what, warn string
			run(t, phone, 5*time.Second, chromedp.Text("#resolve-what", &what), chromedp.Text("#resolve-warn-text", &warn))
			if !strings.Contains(what, name[nvr]) {
				t.Errorf("resolve dialog says %q; it should name %q", what, name[nvr])
			}
			if !strings.Contains(warn, "Mất kết nối") {
				t.Errorf("resolve warning %q does not say the recorder is still offline", warn)
			}
			if bad := smallTargetsOn(t, phone); len(bad) > 0 {
				t.Errorf("resolve dialog: touch targets under 48×48: %v", bad)
			}
			screenshot(t, phone, tag+"-resolve-warning")
			run(t, phone, 10*time.Second,
				chromedp.SendKeys("#resolve-note", "Đã xem"),
				chromedp.Click("#resolve-send"),
			)
			if n := count(t, phone, `document.querySelectorAll("#resolve-dialog[open]").length`); n != 1 {
				t.Error("the dialog sent the resolve without the confirmation while the recorder is offline")
			}
			run(t, phone, 5*time.Second, chromedp.Click("#resolve-cancel"), chromedp.WaitNotVisible("#resolve-dialog"))
			var r struct{ Alerts []openAlert }
			viewer.get("/api/v1/alerts", &r)
			still := false
			for _, a := range r.Alerts {
				still = still || a.ID == "device-offline/"+nvr
			}
			if !still {
				t.Error("the recorder's alert was resolved without the confirmation")
			}
			if bad := smallTargetsOn(t, phone); len(bad) > 0 {
				t.Errorf("device page: touch targets under 48×48: %v", bad)
			}

			// The district alert leads to the district's page.
			run(t, phone, 20*time.Second,
				chromedp.Evaluate(`location.hash = "#/"`, nil),
				chromedp.WaitVisible(`#alerts > li[data-alert="`+districtAlert+`"] > a`),
				tap(`#alerts > li[data-alert="`+districtAlert+`"] > a`),
			)
			if err := chromedp.Run(phone, chromedp.Poll(`document.querySelector("#district-view:not([hidden]) #dist-devices li[data-device]")`, nil, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
				var s string
				run(t, phone, 5*time.Second, chromedp.Evaluate(`location.hash + " | " + document.body.innerText`, &s))
				t.Fatalf("the district alert does not open a district page: %s", s)
			}
			var distName string
			run(t, phone, 5*time.Second, chromedp.Text("#dist-name", &distName))
			if d, _ := reg.District(outage); distName != d.Name {
				t.Errorf("district page named %q; want %q", distName, d.Name)
			}
			if n := count(t, phone, `document.querySelectorAll('#dist-devices li[data-device] a[href^="#/device/"]').length`); n != len(outageDevices) {
				t.Errorf("district page links %d offline devices; want %d", n, len(outageDevices))
			}
			if n := count(t, phone, `document.querySelectorAll('#dist-alerts li[data-alert="`+districtAlert+`"] button.resolve').length`); n != 1 {
				t.Error("the district page does not offer its alert")
			}
			if bad := smallTargetsOn(t, phone); len(bad) > 0 {
				t.Errorf("district page: touch targets under 48×48: %v", bad)
			}
			screenshot(t, phone, tag+"-district")
			run(t, phone, 10*time.Second, tap(`#dist-devices li[data-device="`+outageDevices[0]+`"] a`))
			devName(name[outageDevices[0]])

			if !last {
				return
			}
			// The river is back to normal: resolved with a note, no
			// warning, and the page says it was sent.
			run(t, phone, 20*time.Second,
				chromedp.Evaluate(`location.hash = "#/device/wl-phoyen-01"`, nil),
				chromedp.WaitVisible(water),
				chromedp.Click(water),
				chromedp.WaitVisible("#resolve-note"),
			)
			if n := count(t, phone, `document.querySelectorAll("#resolve-warn:not([hidden])").length`); n != 0 {
				t.Error("resolving an online sensor's alert warns of a persisting fault")
			}
			var done string
			run(t, phone, 20*time.Second,
				chromedp.SendKeys("#resolve-note", "Đã kiểm tra, nước đã rút"),
				chromedp.Click("#resolve-send"),
				chromedp.WaitNotPresent(`#dev-alerts li[data-alert="water-rising/wl-phoyen-01"]`),
			)
			// The list may update before the command's answer arrives, and
			// an earlier message (the refused location) may still show
			// until then: wait for the answer's own message.
			const sent = "Đã gửi: cảnh báo đã đóng"
			if err := chromedp.Run(phone, chromedp.Poll(`(() => { const e = document.querySelector("#toast"); return !e.hidden && e.textContent === `+jsString(sent)+` ? true : null })()`, nil, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
				run(t, phone, 5*time.Second, chromedp.Evaluate(`document.querySelector("#toast").hidden ? "(no message)" : document.querySelector("#toast").textContent`, &done))
				t.Errorf("after resolving the page says %q; want %q", done, sent)
			}
		})
	}
}

// smallTargetsOn lists the visible touch targets under 48×48 on the page.
func smallTargetsOn(t *testing.T, ctx context.Context) []string {
	t.Helper()
	var js string
	run(t, ctx, 5*time.Second, chromedp.Evaluate(smallTargets, &js))
	var out []string
	if err := json.Unmarshal([]byte(js), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// tap clicks the element sel finds once it is there, inside the page in
// one step: the list re-renders on every change, and a click by node id
// can land on a node that was just replaced.
func tap(sel string) chromedp.Action {
	return chromedp.Poll(`(() => { const e = document.querySelector(`+jsString(sel)+`); if (!e) return null; e.click(); return true })()`, nil, chromedp.WithPollingTimeout(10*time.Second))
}

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

func jsList(l []string) string { b, _ := json.Marshal(l); return string(b) }
