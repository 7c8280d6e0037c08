package iocd_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/registry"
)

// TestDispatchInChromium: the operator assigns a tamper alert on the wall
// to the city's technicians; the technician, on a 390 px phone, finds it
// under "Việc của tôi", accepts, arrives and reports it fixed with the
// large step buttons; the wall shows who has it and since when; the
// technician resolves it; the timeline on both screens lists every step
// in order, in Vietnamese, with no English or raw ids. The fixed step
// carries a photo from the phone's camera input: a thumbnail on the job
// card and in both timelines, opening the photo.
func TestDispatchInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	sys := startIngest(t, func(c *ingestd.Config) {
		c.Alerts.Targets = map[alert.Severity]alert.Target{alert.Critical: {Acknowledge: 5 * time.Minute, Restore: 4 * time.Hour}}
	})
	base := startIOC(t, iocConfig(t, sys, "dispatch-ui"))
	reg, err := registry.Load(configs + "devices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	raw := []string{"district:", "team:", "user:", "operator", "technician", "ky-thuat-tp", "bao-tri-vms", "ky-thuat-vo-nhai",
		"assigned", "accepted", "en_route", "on_site", "fixed", "resolved", "acked", "raised"}
	for _, d := range reg.Devices() {
		raw = append(raw, d.ID)
	}
	var prov struct{ People map[string]string }
	login(t, base, "viewer").get("/api/v1/province", &prov)
	const cam, id = "cam-bvtw-01", "camera-tamper/cam-bvtw-01"
	vms := integrator(t, sys, "vms-tn")
	vms(cam, "status", `{"state": "online", "recording": true, "signal": true, "fps": 25, "bitrate_kbps": 2048}`)
	vms(cam, "event", `{"type": "tamper"}`)

	wall := chrome(t, 1920, 1080)
	loginPage(t, wall, base, "operator", "/wall/", `body[data-connected="yes"]`)
	row := `#feed li[data-alert="` + id + `"]`
	run(t, wall, 30*time.Second,
		chromedp.WaitVisible(row),
		chromedp.Click(row+" button.assign"),
		chromedp.WaitVisible(`#assign-dialog #assign-to`),
		chromedp.SetValue(`#assign-to`, "team:ky-thuat-tp"),
		chromedp.SendKeys(`#assign-note`, "Camera cổng chính bị che"),
		chromedp.Click(`#assign-send`),
		chromedp.WaitNotPresent(`#assign-dialog`),
	)
	var js string
	run(t, wall, 5*time.Second, chromedp.Evaluate(`JSON.stringify(IOCDict)`, &js))
	var dict map[string]map[string]string
	if err := json.Unmarshal([]byte(js), &dict); err != nil {
		t.Fatal(err)
	}
	wallRow := func(want string) {
		t.Helper()
		var s string
		err := chromedp.Run(wall, chromedp.Poll(`(() => { const e = document.querySelector(`+jsString(row)+`); return e && e.innerText.includes(`+jsString(want)+`) ? e.innerText : null })()`,
			&s, chromedp.WithPollingTimeout(15*time.Second)))
		if err != nil {
			run(t, wall, 5*time.Second, chromedp.Evaluate(`(document.querySelector(`+jsString(row)+`) || {}).innerText || ""`, &s))
			t.Fatalf("wall row %q lacks %q", s, want)
		}
	}
	wallRow("Đội kỹ thuật TP. Thái Nguyên · Đã giao từ")
	wallRow("Khắc phục trong 3 giờ") // critical: restore within 4 h

	phone := chrome(t, 390, 844)
	run(t, phone, 10*time.Second, emulation.SetDeviceMetricsOverride(390, 844, 2, true))
	loginPage(t, phone, base, "technician", "/tech/", `body[data-connected="yes"]`)
	job := `#jobs li.job[data-alert="` + id + `"]`
	step := func(op, after string) {
		t.Helper()
		run(t, phone, 15*time.Second, chromedp.Click(job+` button.step[data-op="`+op+`"]`), chromedp.WaitVisible(job+`[data-step="`+after+`"]`))
	}
	run(t, phone, 15*time.Second, chromedp.WaitVisible(job+`[data-step="assigned"]`))
	var small string
	run(t, phone, 5*time.Second, chromedp.Evaluate(`JSON.stringify([...document.querySelectorAll(`+jsString(job+" button, "+job+" a")+`)].filter((e) => {
		const r = e.getBoundingClientRect(); return r.width < 48 || r.height < 48 }).map((e) => e.textContent))`, &small))
	if small != "[]" {
		t.Errorf("job targets under 48×48 px: %s", small)
	}
	var jobText string
	run(t, phone, 5*time.Second, chromedp.Text(job, &jobText))
	for _, want := range []string{"Đội kỹ thuật TP. Thái Nguyên · Đã giao từ", "Khắc phục trong", "Đã giao · Trực ban IOC — Camera cổng chính bị che"} {
		if !strings.Contains(jobText, want) {
			t.Errorf("job card %q lacks %q", jobText, want)
		}
	}
	screenshot(t, phone, "tech-390-my-jobs")
	step("accept", "accepted")
	step("on_site", "on_site")
	shot := filepath.Join(t.TempDir(), "anh-sau-khi-sua.png")
	if err := os.WriteFile(shot, testPNG(t), 0o600); err != nil {
		t.Fatal(err)
	}
	var capture string
	run(t, phone, 15*time.Second,
		chromedp.Click(job+` button.step[data-op="fixed"]`),
		chromedp.WaitVisible(`#fixed-note`),
		chromedp.AttributeValue(`#fixed-photo`, "capture", &capture, nil),
		chromedp.SendKeys(`#fixed-note`, "Đã gỡ vật che, chỉnh lại góc quay"),
		chromedp.SetUploadFiles(`#fixed-photo`, []string{shot}),
		chromedp.Click(`#fixed-send`),
		chromedp.WaitVisible(job+`[data-step="fixed"]`),
	)
	if capture != "environment" {
		t.Errorf("the photo input's capture is %q, want the back camera (environment)", capture)
	}
	// photoShown: the thumbnail under sel has loaded, and its link opens an
	// image the server serves as one.
	photoShown := func(c context.Context, where, sel string) {
		t.Helper()
		var ok bool
		err := chromedp.Run(c, chromedp.Poll(`(() => { const i = document.querySelector(`+jsString(sel+" a.photo img")+`); return !!i && i.complete && i.naturalWidth > 0 })()`,
			&ok, chromedp.WithPollingTimeout(15*time.Second)))
		if err != nil || !ok {
			t.Fatalf("%s: no loaded thumbnail under %s: %v", where, sel, err)
		}
		var got struct {
			Type, Target, Alt string
			Size              int
		}
		run(t, c, 10*time.Second, chromedp.Evaluate(`(async () => {
			const a = document.querySelector(`+jsString(sel+" a.photo")+`);
			const r = await fetch(a.href, { credentials: "same-origin" });
			return { type: r.headers.get("Content-Type"), target: a.target, alt: a.querySelector("img").alt, size: (await r.blob()).size };
		})()`, &got, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
		if got.Type != "image/jpeg" || got.Size == 0 || got.Target != "_blank" || got.Alt != "Ảnh sau khi khắc phục" {
			t.Errorf("%s: the photo link opens %+v, want a JPEG (the phone scales it down) in a new tab, alt in Vietnamese", where, got)
		}
	}
	photoShown(phone, "job card", job+` .steps li[data-step="fixed"]`)
	run(t, phone, 5*time.Second, chromedp.Text(job, &jobText))
	for _, want := range []string{"Đã nhận · Kỹ thuật viên hiện trường", "Tại hiện trường · Kỹ thuật viên hiện trường", "Đã khắc phục, chờ đóng · Kỹ thuật viên hiện trường — Đã gỡ vật che"} {
		if !strings.Contains(jobText, want) {
			t.Errorf("job card %q lacks %q", jobText, want)
		}
	}
	wallRow("Đội kỹ thuật TP. Thái Nguyên · Đã khắc phục, chờ đóng từ")

	// The wall's timeline stays open while the technician closes the alert.
	run(t, wall, 10*time.Second, chromedp.Click(row+" button.timeline"), chromedp.WaitVisible(`#timeline-dialog #timeline li[data-transition="fixed"]`))
	photoShown(wall, "wall timeline", `#timeline-dialog #timeline li[data-transition="fixed"]`)
	run(t, phone, 15*time.Second,
		chromedp.Click(job+` button.resolve`),
		chromedp.WaitVisible(`#resolve-note`),
		chromedp.SendKeys(`#resolve-note`, "Hình ảnh đã bình thường"),
		chromedp.Click(`#resolve-send`),
		chromedp.WaitNotPresent(job),
		chromedp.Navigate(base+"/tech/#/timeline/"+id),
		chromedp.WaitVisible(`#timeline li[data-transition="resolved"]`),
	)
	photoShown(phone, "phone timeline", `#timeline li[data-transition="fixed"]`)
	run(t, wall, 20*time.Second, chromedp.WaitVisible(`#timeline-dialog #timeline li[data-transition="resolved"]`))

	want := []string{"phát sinh", "xác nhận · Trực ban IOC", "giao việc · Trực ban IOC · → Đội kỹ thuật TP. Thái Nguyên — Camera cổng chính bị che",
		"nhận việc · Kỹ thuật viên hiện trường", "đã đến nơi · Kỹ thuật viên hiện trường",
		"đã khắc phục · Kỹ thuật viên hiện trường — Đã gỡ vật che, chỉnh lại góc quay", "đã xử lý · Kỹ thuật viên hiện trường — Hình ảnh đã bình thường"}
	for name, ctx := range map[string]struct {
		sel  string
		page func() string
	}{
		"phone": {`#timeline li`, nil}, "wall": {`#timeline-dialog #timeline li`, nil},
	} {
		c := phone
		if name == "wall" {
			c = wall
		}
		var items []string
		run(t, c, 5*time.Second, chromedp.Evaluate(`[...document.querySelectorAll(`+jsString(ctx.sel)+`)].map((e) => e.textContent)`, &items))
		if len(items) != len(want) {
			t.Errorf("%s timeline has %d entries, want %d: %q", name, len(items), len(want), items)
			continue
		}
		for i, w := range want {
			if !strings.HasSuffix(items[i], w) || !strings.Contains(items[i], "/12 · ") && !strings.Contains(items[i], "/") {
				t.Errorf("%s timeline entry %d %q, want it to end with %q after its time", name, i, items[i], w)
			}
		}
		var text string
		run(t, c, 5*time.Second, chromedp.Evaluate(`document.title + "\n" + document.body.innerText`, &text))
		for _, l := range leaks(text, "vi", dict, reg, prov.People, raw) {
			t.Errorf("Vietnamese %s shows %s", name, l)
		}
	}
	screenshot(t, phone, "tech-390-timeline")
	screenshot(t, wall, "wall-timeline")
}
