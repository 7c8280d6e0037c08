package iocd_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestPhoneOfflineInChromium: a technician's phone that has shown the
// list once opens the page again with the network cut (Chromium's
// network emulation, service worker included): the page comes from the
// service worker, the last list is there, and a bar says in Vietnamese
// that it is offline and as of when the list is.
func TestPhoneOfflineInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	sys := startIngest(t)
	base := startIOC(t, iocConfig(t, sys, "offline"))
	env := integrator(t, sys, "envsense")
	env("wl-phoyen-01", "telemetry", `{"water_level_cm":100}`)
	time.Sleep(200 * time.Millisecond) // the rise rule needs two readings apart
	env("wl-phoyen-01", "telemetry", `{"water_level_cm":130}`)
	const id = "water-rising/wl-phoyen-01"
	card := fmt.Sprintf(`#alerts li[data-alert=%q]`, id)

	phone := chrome(t, 390, 844)
	loginPage(t, phone, base, "technician", "/tech/", "#alerts")
	run(t, phone, 15*time.Second, chromedp.WaitVisible(card),
		chromedp.Poll(`navigator.serviceWorker.controller ? true : null`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Poll(`(JSON.parse(localStorage.getItem("ioc.tech.last") || "null") || {alerts: []}).alerts.some((a) => a.id === "`+id+`") || null`, nil, chromedp.WithPollingTimeout(10*time.Second)))
	if n := count(t, phone, `document.querySelector("#offline").hidden ? 0 : 1`); n != 0 {
		t.Error("online, the page says it is offline")
	}
	var savedAt string
	run(t, phone, 5*time.Second, chromedp.Evaluate(`JSON.parse(localStorage.getItem("ioc.tech.last")).at`, &savedAt))
	at, err := time.Parse(time.RFC3339, savedAt)
	if err != nil {
		t.Fatalf("saved at %q: %v", savedAt, err)
	}

	cut := chromedp.ActionFunc(func(ctx context.Context) error {
		if err := network.Enable().Do(ctx); err != nil {
			return err
		}
		if _, err := network.EmulateNetworkConditionsByRule([]*network.Conditions{{Offline: true, DownloadThroughput: -1, UploadThroughput: -1}}).
			WithEmulateOfflineServiceWorker(true).Do(ctx); err != nil {
			return err
		}
		return network.OverrideNetworkState(true, 0, -1, -1).Do(ctx)
	})
	run(t, phone, 20*time.Second, cut, chromedp.Reload(), chromedp.WaitVisible(card), chromedp.WaitVisible("#offline"))
	var bar, cardText string
	run(t, phone, 5*time.Second, chromedp.Text("#offline", &bar), chromedp.Text(card, &cardText))
	hcm, _ := time.LoadLocation("Asia/Ho_Chi_Minh")
	if want := "Ngoại tuyến — danh sách lúc " + at.In(hcm).Format("15:04 02/01") + " ("; !strings.HasPrefix(bar, want) {
		t.Errorf("offline bar %q, want it to start %q", bar, want)
	}
	if !strings.Contains(cardText, "nước lên nhanh") || !strings.Contains(cardText, "Mực nước sông Công - Phổ Yên") {
		t.Errorf("saved card %q lacks the alert's message or the device's name", cardText)
	}
	screenshot(t, phone, "tech-390-offline")
}
