package iocd_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// TestWallViews: a wall opened on /wall/?district=dai-tu shows Đại Từ
// alone: its alerts in the feed, its devices in the tiles and its row in
// the district table, and names the view. A wall given a playlist
// (?views=all|dai-tu&every=30) turns from the whole province to Đại Từ and
// back every 30 s of a clock the test controls.
func TestWallViews(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	sys := startIngest(t)
	base := startIOC(t, iocConfig(t, sys, "views"))
	vms := integrator(t, sys, "vms-tn")
	vms("cam-ttyt-daitu-01", "event", `{"type":"tamper","zone":"ống kính"}`)
	vms("cam-bvtw-01", "event", `{"type":"tamper","zone":"ống kính"}`)
	const daitu, bvtw = `#feed li[data-alert="camera-tamper/cam-ttyt-daitu-01"]`, `#feed li[data-alert="camera-tamper/cam-bvtw-01"]`

	wall := chrome(t, 3840, 2160)
	installTestClock(t, wall)
	loginPage(t, wall, base, "operator", "/wall/?district=dai-tu", `body[data-connected="yes"]`)
	run(t, wall, 10*time.Second, chromedp.WaitVisible(daitu))
	var view string
	run(t, wall, 5*time.Second, chromedp.Text("#view", &view))
	if view != "Huyện Đại Từ" {
		t.Errorf("the district view is named %q", view)
	}
	if n := count(t, wall, `document.querySelectorAll(`+"`"+bvtw+"`"+`).length`); n != 0 {
		t.Errorf("the Đại Từ view shows TP. Thái Nguyên's alert")
	}
	if n := count(t, wall, `document.querySelectorAll("#districts tr[data-district]").length`); n != 1 {
		t.Errorf("the Đại Từ view's district table has %d rows", n)
	}
	// Đại Từ has 4 cameras in the shipped registry (of 19).
	if n := count(t, wall, `+document.querySelector('#summary .tile[data-kind="camera"]').dataset.total`); n != 4 {
		t.Errorf("the Đại Từ view's camera tile counts %d cameras; want Đại Từ's 4", n)
	}
	screenshot(t, wall, "wall-3840x2160-district")
	docShot(t, wall, "wall-4k-district")

	run(t, wall, 20*time.Second, chromedp.Navigate(base+"/wall/?views=all|dai-tu&every=30"), chromedp.WaitVisible(`body[data-connected="yes"]`),
		chromedp.WaitVisible(bvtw), chromedp.WaitVisible(daitu))
	for i, want := range []string{"dai-tu", "all", "dai-tu"} {
		run(t, wall, 5*time.Second, chromedp.Evaluate(`iocTestClock.advance(30000)`, nil))
		testenv.Eventually(t, 10*time.Second, func() error {
			var v string
			run(t, wall, 5*time.Second, chromedp.Evaluate(`document.body.dataset.view`, &v))
			shown := count(t, wall, `document.querySelectorAll(`+"`"+bvtw+"`"+`).length`)
			if v != want || (want == "all") != (shown == 1) {
				return fmt.Errorf("turn %d: view %q showing TP. Thái Nguyên's alert %d; want view %q", i+1, v, shown, want)
			}
			return nil
		})
	}
}
