package iocd_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestLoginRedirectInChromium is the security review's probe 260: after a
// successful login the page goes to `next` only when it is a path on this
// server. Each case logs in in Chromium and checks where the browser
// actually went, so the browser's own URL parsing ("\" as "/", tabs
// dropped) is what is tested.
func TestLoginRedirectInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	sys := startIngest(t)
	base := startIOC(t, iocConfig(t, sys, "redirect"))
	ctx := chrome(t, 1280, 800)
	for _, c := range []struct{ next, want string }{
		{`/\evil.example`, "/wall/"},
		{"/\t/evil.example", "/wall/"},
		{`/\/evil.example`, "/wall/"},
		{"//evil.example", "/wall/"},
		{"https://evil.example/", "/wall/"},
		{"/\n/evil.example", "/wall/"},
		{"javascript:alert(1)", "/wall/"},
		{"/tech/#/alerts", "/tech/#/alerts"},
		{"/wall/?district=tp-thai-nguyen", "/wall/?district=tp-thai-nguyen"},
	} {
		var href string
		run(t, ctx, 30*time.Second,
			chromedp.Navigate(base+"/login.html?next="+url.QueryEscape(c.next)),
			chromedp.WaitVisible("#username"),
			chromedp.SetValue("#username", "viewer"),
			chromedp.SetValue("#password", "demo-viewer"),
			chromedp.Click("#submit"),
		)
		// The page navigates away: read where it landed, retrying while
		// the navigation is under way.
		deadline := time.Now().Add(15 * time.Second)
		for href = ""; time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := chromedp.Run(tctx, chromedp.Evaluate(`location.pathname === "/login.html" ? "" : location.href`, &href))
			cancel()
			if err == nil && href != "" {
				break
			}
		}
		if !strings.HasPrefix(href, base+"/") || strings.TrimPrefix(href, base) != c.want {
			t.Errorf("next=%q: the browser went to %q, want %s%s", c.next, href, base, c.want)
		}
	}
}
