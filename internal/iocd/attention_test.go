package iocd_test

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// chromeAsShipped is a headless Chromium with its default autoplay policy
// (testenv.Chrome lets pages play sound without a gesture): an
// AudioContext made before anyone touched the page stays suspended, as on
// a wall after a reload.
func chromeAsShipped(t *testing.T, w, h int) context.Context {
	t.Helper()
	return testenv.ChromeWith(t, w, h, testenv.ChromeOptions{DefaultAutoplay: true})
}

// luminance is the WCAG relative luminance of "rgb(r, g, b)".
func luminance(t *testing.T, css string) float64 {
	t.Helper()
	f := strings.FieldsFunc(css, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.') })
	if len(f) < 3 {
		t.Fatalf("colour %q", css)
	}
	var l float64
	for i, w := range []float64{0.2126, 0.7152, 0.0722} {
		c, _ := strconv.ParseFloat(f[i], 64)
		c /= 255
		if c <= 0.03928 {
			c /= 12.92
		} else {
			c = math.Pow((c+0.055)/1.055, 2.4)
		}
		l += w * c
	}
	return l
}

// TestWallAnnouncesNewCriticalAlerts: on a 3840×2160 wall reloaded with no
// one at it, the sound button says the browser blocks sound instead of
// claiming it is on; the first click unlocks it. A new critical alert
// raises a full-width banner that pulses with a strong luminance change
// (at least 4.5:1 between its two states, where the old card blink was
// 1.16:1) and names the alert; the alarm sounds and repeats while the
// alert is unacknowledged; "Đã thấy" takes the banner down and
// acknowledging stops the alarm.
func TestWallAnnouncesNewCriticalAlerts(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	sys := startIngest(t)
	base := startIOC(t, iocConfig(t, sys, "attention"))
	env := integrator(t, sys, "envsense")
	wall := chromeAsShipped(t, 3840, 2160)
	loginPage(t, wall, base, "operator", "/wall/", `body[data-connected="yes"]`)
	run(t, wall, 20*time.Second, chromedp.Reload(), chromedp.WaitVisible(`body[data-connected="yes"]`))

	var state, label string
	run(t, wall, 10*time.Second, chromedp.Evaluate(`document.body.dataset.sound || ""`, &state), chromedp.Text("#sound", &label))
	if state != "blocked" || label != "Âm thanh bị chặn — bấm để bật" {
		t.Errorf("after a reload the wall's sound is %q and its button says %q; want blocked, \"Âm thanh bị chặn — bấm để bật\"", state, label)
	}
	screenshot(t, wall, "wall-3840x2160-sound-blocked")
	run(t, wall, 10*time.Second, chromedp.Click("#sound"), chromedp.WaitVisible(`body[data-sound="on"]`), chromedp.Text("#sound", &label))
	if label != "Âm thanh: bật" {
		t.Errorf("unlocked sound button says %q", label)
	}

	const id = "water-rising/wl-cau-gia-bay"
	env("wl-cau-gia-bay", "telemetry", `{"water_level_cm":100}`)
	env("wl-cau-gia-bay", "telemetry", `{"water_level_cm":140}`)
	run(t, wall, 10*time.Second, chromedp.WaitVisible(`#banner[data-alert="`+id+`"]`))
	var banner struct {
		Text, Anim    string
		Width, Height float64
		Frames        []string
	}
	var js string
	run(t, wall, 5*time.Second, chromedp.Evaluate(`(() => {
		const b = document.querySelector("#banner"), cs = getComputedStyle(b), r = b.getBoundingClientRect();
		const frames = [];
		for (const sheet of document.styleSheets) for (const rule of sheet.cssRules) {
			if (rule.type === CSSRule.KEYFRAMES_RULE && rule.name === cs.animationName) {
				for (const k of rule.cssRules) { const e = document.createElement("div"); e.style.color = k.style.backgroundColor; document.body.append(e); frames.push(getComputedStyle(e).color); e.remove(); }
			}
		}
		return JSON.stringify({text: b.innerText, anim: cs.animationName, width: r.width, height: r.height, frames});
	})()`, &js))
	if err := json.Unmarshal([]byte(js), &banner); err != nil {
		t.Fatal(err)
	}
	if banner.Width < 3840*0.99 {
		t.Errorf("banner is %.0f px wide; want the wall's width", banner.Width)
	}
	if !strings.Contains(banner.Text, "CẢNH BÁO NGHIÊM TRỌNG MỚI") || !strings.Contains(banner.Text, "Gia Bảy") {
		t.Errorf("banner says %q", banner.Text)
	}
	if len(banner.Frames) < 2 {
		t.Fatalf("banner does not pulse (animation %q, frames %v)", banner.Anim, banner.Frames)
	}
	lo, hi := math.Inf(1), 0.0
	for _, f := range banner.Frames {
		l := luminance(t, f)
		lo, hi = math.Min(lo, l), math.Max(hi, l)
	}
	if ratio := (hi + 0.05) / (lo + 0.05); ratio < 4.5 {
		t.Errorf("banner pulses between %v: luminance ratio %.2f, want at least 4.5", banner.Frames, ratio)
	}
	screenshot(t, wall, "wall-3840x2160-banner")

	// The alarm repeats while the alert is unacknowledged.
	var beeps string
	run(t, wall, 30*time.Second, chromedp.WaitVisible(`body[data-alarm="yes"]`),
		chromedp.Poll(`+(document.body.dataset.beeps || 0) >= 3 ? document.body.dataset.beeps : null`, &beeps, chromedp.WithPollingTimeout(30*time.Second)))

	run(t, wall, 10*time.Second, chromedp.Click("#banner-seen"), chromedp.WaitNotVisible("#banner"))
	run(t, wall, 10*time.Second, chromedp.Click(`#feed li[data-alert="`+id+`"] button.ack`), chromedp.WaitVisible(`body[data-alarm="no"]`))
}
