package iocd_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// TestPagesSayWhenThePictureIsStale: when the IOC server loses the broker
// (its pages' websocket still up), the wall and the phone stop claiming to
// be live and say since when their data is old, in Vietnamese with the
// Asia/Ho_Chi_Minh time; they clear the notice once the server has synced
// again.
func TestPagesSayWhenThePictureIsStale(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	c := testenv.IngestConfig(t, configs, "devices.yaml")
	in := testenv.StartIngest(t, c, ingestd.Options{Log: quietLog(t)})
	base := startIOC(t, iocConfig(t, &system{Broker: in.Broker, DataDir: in.DataDir}, "stale"))
	wall := chrome(t, 3840, 2160)
	phone := chrome(t, 390, 844)
	loginPage(t, wall, base, "viewer", "/wall/", `body[data-connected="yes"]`)
	loginPage(t, phone, base, "technician", "/tech/", `body[data-connected="yes"]`)
	if n := count(t, wall, `document.querySelectorAll("#stale:not([hidden])").length`); n != 0 {
		t.Fatal("the wall says its data is stale while the server follows the broker")
	}

	lost := time.Now().In(time.FixedZone("ICT", 7*3600))
	in.Stop()
	var wallText, phoneText string
	run(t, wall, 20*time.Second, chromedp.WaitVisible("#stale"), chromedp.WaitVisible(`body[data-live="no"]`), chromedp.Text("#stale", &wallText))
	run(t, phone, 20*time.Second, chromedp.WaitVisible("#stale"), chromedp.Text("#stale", &phoneText))
	minutes := []string{lost.Format("15:04"), lost.Add(time.Minute).Format("15:04")}
	for _, c := range []struct{ page, text, prefix string }{
		{"wall", wallText, "DỮ LIỆU CŨ TỪ "},
		{"phone", phoneText, "Dữ liệu cũ từ "},
	} {
		if !strings.HasPrefix(c.text, c.prefix) || !(strings.Contains(c.text, minutes[0]) || strings.Contains(c.text, minutes[1])) {
			t.Errorf("%s says %q; want %q and the time the feed was lost (%s, Asia/Ho_Chi_Minh)", c.page, c.text, c.prefix, minutes[0])
		}
	}
	if n := count(t, wall, `document.querySelectorAll("#lost:not([hidden])").length`); n != 0 {
		t.Error("the wall says its connection to the server is lost; it is the server's feed that is")
	}
	if n := count(t, wall, `document.querySelectorAll("#conn.stale").length`); n != 1 {
		t.Error("the wall's status dot still claims live data")
	}
	screenshot(t, wall, "wall-stale")
	screenshot(t, phone, "tech-390-stale")

	testenv.StartIngest(t, c, ingestd.Options{Log: quietLog(t)}) // same broker port and data
	run(t, wall, 30*time.Second, chromedp.WaitNotVisible("#stale"), chromedp.WaitVisible(`body[data-live="yes"]`))
	run(t, phone, 30*time.Second, chromedp.WaitNotVisible("#stale"))
}
