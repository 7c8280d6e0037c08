package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Artifacts is where browser tests keep their screenshots: $IOC_TEST_ARTIFACTS
// or root's artifacts/, then screenshots/.
func Artifacts(t TB, root string) string {
	dir := os.Getenv("IOC_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(root, "artifacts")
	}
	dir = filepath.Join(dir, "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Chrome starts a headless Chromium (Debian's, installed by scripts/test)
// with a window of w×h and returns a tab's context; it stops with the test.
// Pages may play sound without a gesture; ChromeWith can keep Chromium's
// default autoplay policy.
func Chrome(t TB, w, h int) context.Context {
	t.Helper()
	return ChromeWith(t, w, h, ChromeOptions{})
}

// ChromeOptions change how Chrome starts the browser.
type ChromeOptions struct {
	// DefaultAutoplay keeps Chromium's autoplay policy: an AudioContext
	// made before anyone touched the page stays suspended, as on a wall
	// after a reload.
	DefaultAutoplay bool
}

// ChromeWith is Chrome with options.
func ChromeWith(t TB, w, h int, o ChromeOptions) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not found: scripts/test installs Debian's chromium package")
	}
	profile, err := os.MkdirTemp("", "ioc-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(w, h),
		chromedp.UserDataDir(profile),
	}
	if !o.DefaultAutoplay {
		opts = append(opts, chromedp.Flag("autoplay-policy", "no-user-gesture-required"))
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	// chromedp reports CDP events it does not know (newer Chromium) from
	// its own goroutines, possibly after the test ends: not test output.
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(func(string, ...any) {}))
	t.Cleanup(func() {
		cancel()
		cancelA()
		// Chromium's helper processes may still write to the profile for
		// a moment after the browser exits (t.TempDir's cleanup reported
		// "directory not empty"): remove it once they are done.
		for range 50 {
			if err := os.RemoveAll(profile); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	// The first Run starts the browser, tied to ctx itself (not a timeout).
	if err := chromedp.Run(ctx, chromedp.EmulateViewport(int64(w), int64(h))); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return ctx
}

// Browse runs actions in the tab within timeout, failing the test on error.
func Browse(t TB, ctx context.Context, timeout time.Duration, actions ...chromedp.Action) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// Login logs in through the login page as a person would, with the demo
// password demo-<name>, and waits for ready on the page it leads to.
func Login(t TB, ctx context.Context, base, name, next, ready string) {
	t.Helper()
	Browse(t, ctx, 30*time.Second,
		chromedp.Navigate(base+"/login.html?next="+next),
		chromedp.WaitVisible("#username"),
		chromedp.SendKeys("#username", name),
		chromedp.SendKeys("#password", "demo-"+name),
		chromedp.Click("#submit"),
		chromedp.WaitVisible(ready),
	)
}

// Screenshot saves the whole page as dir/name.png.
func Screenshot(t interface {
	TB
	Logf(string, ...any)
}, ctx context.Context, dir, name string) string {
	t.Helper()
	var png []byte
	Browse(t, ctx, 30*time.Second, chromedp.FullScreenshot(&png, 100))
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
	return p
}

// JSErrors collects the tab's uncaught exceptions and console.error
// messages from now on; the returned function reports them so far.
func JSErrors(ctx context.Context) func() []string {
	var mu sync.Mutex
	var errs []string
	chromedp.ListenTarget(ctx, func(ev any) {
		switch e := ev.(type) {
		case *cdpruntime.EventExceptionThrown:
			mu.Lock()
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			errs = append(errs, msg)
			mu.Unlock()
		case *cdpruntime.EventConsoleAPICalled:
			if e.Type != cdpruntime.APITypeError {
				return
			}
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			mu.Lock()
			errs = append(errs, "console.error: "+strings.Join(parts, " "))
			mu.Unlock()
		}
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), errs...)
	}
}
