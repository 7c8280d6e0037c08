package iocd_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ioc-vn/ioc/internal/registry"
)

// TestWallFeedAtDistance: with 21 root-cause alerts open (every camera
// tampered with, a rising river, an air station out of range), the 4K
// wall's feed shows at least 15 of them whole, each with its district and
// its age ("vừa xong", "12 phút trước") in large type, and a last row
// "+N nữa" counting those it could not show; nothing is cut off silently.
func TestWallFeedAtDistance(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	sys := startIngest(t)
	base := startIOC(t, iocConfig(t, sys, "feed"))
	reg, err := registry.Load(configs + "devices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	vms := integrator(t, sys, "vms-tn")
	env := integrator(t, sys, "envsense")
	district := map[string]string{}
	for _, d := range reg.Districts() {
		district[d.ID] = d.Name
	}
	want := 0
	for _, d := range reg.Devices() {
		if d.Kind == registry.Camera {
			vms(d.ID, "event", `{"type":"tamper","zone":"ống kính"}`)
			want++
		}
	}
	env("wl-cau-gia-bay", "telemetry", `{"water_level_cm":100}`)
	env("wl-cau-gia-bay", "telemetry", `{"water_level_cm":140}`)
	env("aq-tp-02", "telemetry", `{"pm25":1500}`)
	want += 2

	wall := chrome(t, 3840, 2160)
	loginPage(t, wall, base, "operator", "/wall/", `body[data-connected="yes"]`)
	var n string
	err = chromedp.Run(wall, chromedp.Poll(`document.querySelector("#alert-count").textContent === "`+fmt.Sprint(want)+`" ? "ok" : null`, &n, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatalf("the wall never counted %d open alerts: %v", want, err)
	}
	run(t, wall, 10*time.Second, chromedp.WaitVisible("#feed li.alert"))
	var js string
	run(t, wall, 10*time.Second, chromedp.Evaluate(`(() => {
		const feed = document.querySelector("#feed"), box = feed.getBoundingClientRect();
		const whole = (e) => { const r = e.getBoundingClientRect(); return r.height > 0 && r.top >= box.top - 1 && r.bottom <= box.bottom + 1; };
		const rows = [...feed.querySelectorAll("li.alert")].filter(whole).map((li) => ({
			id: li.dataset.alert, text: li.innerText,
			msg: parseFloat(getComputedStyle(li.querySelector(".msg")).fontSize),
			meta: parseFloat(getComputedStyle(li.querySelector(".meta")).fontSize)}));
		const more = feed.querySelector("#feed-more");
		return JSON.stringify({rows, more: more && whole(more) ? more.innerText : ""});
	})()`, &js))
	var got struct {
		Rows []struct {
			ID, Text  string
			Msg, Meta float64
		}
		More string
	}
	if err := json.Unmarshal([]byte(js), &got); err != nil {
		t.Fatal(err)
	}
	screenshot(t, wall, "wall-3840x2160-feed")
	if len(got.Rows) < 15 {
		t.Errorf("the feed shows %d whole alerts at 3840×2160; want at least 15", len(got.Rows))
	}
	if wantMore := fmt.Sprintf("+%d nữa", want-len(got.Rows)); len(got.Rows) < want && got.More != wantMore {
		t.Errorf("past the fold the feed says %q; want %q", got.More, wantMore)
	}
	age := regexp.MustCompile(`vừa xong|\d+ phút trước`)
	for _, r := range got.Rows {
		dev := r.ID[len(regexp.MustCompile(`^[^/]+/`).FindString(r.ID)):]
		d, ok := reg.Device(dev)
		if !ok {
			t.Fatalf("row %s: no device %s", r.ID, dev)
		}
		if !regexp.MustCompile(regexp.QuoteMeta(district[d.District])).MatchString(r.Text) {
			t.Errorf("row %s does not name its district %q: %q", r.ID, district[d.District], r.Text)
		}
		if !age.MatchString(r.Text) {
			t.Errorf("row %s does not say its age: %q", r.ID, r.Text)
		}
		if r.Msg < 44 || r.Meta < 36 {
			t.Errorf("row %s: headline %.0f px, district and age %.0f px; want at least 44 and 36 at 4K", r.ID, r.Msg, r.Meta)
		}
	}
	// Ages as an operator says them, in the page's clock.
	for _, c := range []struct {
		minutes int
		want    string
	}{{0, "vừa xong"}, {12, "12 phút trước"}, {135, "2 giờ trước"}, {2 * 1440, "2 ngày trước"}} {
		var s string
		run(t, wall, 5*time.Second, chromedp.Evaluate(fmt.Sprintf(`IOC.ago("2026-03-01T10:00:00Z", new Date(Date.parse("2026-03-01T10:00:00Z") + %d * 60000))`, c.minutes), &s))
		if s != c.want {
			t.Errorf("%d minutes ago reads %q; want %q", c.minutes, s, c.want)
		}
	}
}
