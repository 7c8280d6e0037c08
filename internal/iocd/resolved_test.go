package iocd_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// TestWallRecentlyResolved: a technician resolves the river alert with a
// note from the phone's API; the wall's "Vừa xử lý" list shows it at
// once, with the technician's name (not the username) and the note, and
// the alert leaves the feed. A reload finds it again (the server's
// snapshot carries the list), and so does another IOC server started
// after it (from the alert history). In English the list says the same in
// English; a district view that is not the river's does not show it.
func TestWallRecentlyResolved(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	sys := startIngest(t)
	base := startIOC(t, iocConfig(t, sys, "resolved"))
	env := integrator(t, sys, "envsense")
	for i, v := range []int{90, 95, 100, 140} {
		if i == 3 {
			time.Sleep(100 * time.Millisecond) // the rise is measured over time
		}
		env("wl-phoyen-01", "telemetry", fmt.Sprintf(`{"water_level_cm":%d}`, v))
	}
	const river = "water-rising/wl-phoyen-01"
	wall := chrome(t, 3840, 2160)
	loginPage(t, wall, base, "operator", "/wall/", `body[data-connected="yes"]`)
	run(t, wall, 20*time.Second, chromedp.WaitVisible(`#feed li[data-alert="`+river+`"]`), chromedp.WaitVisible(`#resolved li.empty`))
	var empty string
	run(t, wall, 5*time.Second, chromedp.Text(`#resolved li.empty`, &empty))
	if empty != "Chưa có cảnh báo nào được xử lý trong 4 giờ qua" {
		t.Errorf("the empty list says %q", empty)
	}

	const note = "Đã kiểm tra tại chỗ, nước rút"
	tech := login(t, base, "technician")
	if status, body := tech.do("POST", "/api/v1/alerts/water-rising/wl-phoyen-01/resolve", map[string]string{"note": note}); status != 200 {
		t.Fatalf("resolve: %d %s", status, body)
	}
	row := `#resolved li[data-alert="` + river + `"]`
	run(t, wall, 10*time.Second, chromedp.WaitVisible(row), chromedp.WaitNotPresent(`#feed li[data-alert="`+river+`"]`))
	read := func() (what, who string) {
		run(t, wall, 5*time.Second, chromedp.Text(row+" .what", &what), chromedp.Text(row+" .who", &who))
		return
	}
	what, who := read()
	if !strings.Contains(what, "Mực nước") || !strings.Contains(who, "Kỹ thuật viên hiện trường") || !strings.Contains(who, note) || !strings.Contains(who, "vừa xong") {
		t.Errorf("the resolved row says %q / %q; want the river alert, vừa xong, the technician's name and the note", what, who)
	}
	if strings.Contains(who, "technician") {
		t.Errorf("the resolved row shows the username: %q", who)
	}
	// The capital letters are read from the desks: 16′ at 3 m on a 98″
	// panel is 24.7 px (docs/WALL.md).
	var caps float64
	run(t, wall, 5*time.Second, chromedp.Evaluate(`parseFloat(getComputedStyle(document.querySelector(`+"`"+row+" .msg`"+`)).fontSize) * 0.714`, &caps))
	if caps < 24.7 {
		t.Errorf("the resolved row's capitals are %.1f px; want at least 24.7 (16′ at 3 m)", caps)
	}
	screenshot(t, wall, "wall-3840x2160-resolved")

	// A reload: the snapshot carries the list.
	run(t, wall, 20*time.Second, chromedp.Reload(), chromedp.WaitVisible(`body[data-connected="yes"]`), chromedp.WaitVisible(row))
	run(t, wall, 10*time.Second, chromedp.Click("#lang"), chromedp.WaitVisible(`h2 [data-i18n="active_alerts"]`))
	var title string
	run(t, wall, 5*time.Second, chromedp.Text(`.resolved-panel h2`, &title))
	what, who = read()
	if title != "Recently resolved" || !strings.Contains(what, "water rising") || !strings.Contains(who, "just now") {
		t.Errorf("in English: %q, %q / %q", title, what, who)
	}
	run(t, wall, 10*time.Second, chromedp.Click("#lang"), chromedp.WaitVisible(`h2 [data-i18n="active_alerts"]`))

	// Another IOC server started now (or this one restarted) finds it in
	// the alert history: the events topic is not retained.
	testenv.Eventually(t, 20*time.Second, func() error {
		var h struct{ Entries []struct{ Transition string } }
		tech.get("/api/v1/alerts/history?device=wl-phoyen-01", &h)
		for _, e := range h.Entries {
			if e.Transition == "resolved" {
				return nil
			}
		}
		return fmt.Errorf("no resolved transition in the history yet: %+v", h.Entries)
	})
	base2 := startIOC(t, iocConfig(t, sys, "resolved-2"))
	loginPage(t, wall, base2, "operator", "/wall/", `body[data-connected="yes"]`)
	run(t, wall, 10*time.Second, chromedp.WaitVisible(row))
	if what, who = read(); !strings.Contains(who, note) || !strings.Contains(who, "Kỹ thuật viên hiện trường") {
		t.Errorf("a server started after the resolution shows %q / %q", what, who)
	}

	// Phổ Yên's river is not Đại Từ's.
	var ids string
	run(t, wall, 20*time.Second, chromedp.Navigate(base+"/wall/?district=dai-tu"), chromedp.WaitVisible(`body[data-connected="yes"]`),
		chromedp.WaitVisible(`#resolved li`),
		chromedp.Evaluate(`JSON.stringify([...document.querySelectorAll("#resolved li[data-alert]")].map((e) => e.dataset.alert))`, &ids))
	var shown []string
	if err := json.Unmarshal([]byte(ids), &shown); err != nil || len(shown) != 0 {
		t.Errorf("the Đại Từ view lists %s as resolved; want none", ids)
	}
}
