package allinone_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// runCommand is the command README.md's "Run it" section gives: its first
// indented line.
func runCommand(t *testing.T, readme string) string {
	t.Helper()
	_, section, ok := strings.Cut(readme, "\n## Run it\n")
	if !ok {
		t.Fatal(`README.md has no "## Run it" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	for _, line := range strings.Split(section, "\n") {
		if cmd, ok := strings.CutPrefix(line, "    "); ok && strings.TrimSpace(cmd) != "" {
			return strings.TrimSpace(cmd)
		}
	}
	t.Fatal(`README.md's "Run it" section shows no command`)
	return ""
}

// TestREADME follows the README on a clean clone: runs its one command,
// waits for the URL it prints, logs in to the wall in headless Chromium
// and checks that live device data and a simulated incident's alert
// appear.
func TestREADME(t *testing.T) {
	if testing.Short() {
		t.Skip("clones the repository, builds and runs the whole system and a browser")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	clone := filepath.Join(t.TempDir(), "ioc")
	if out, err := exec.Command("git", "clone", "--quiet", root, clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	readme, err := os.ReadFile(filepath.Join(clone, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	command := runCommand(t, string(readme))
	t.Logf("README's run command: %s", command)

	cmd := exec.Command("bash", "-c", command)
	cmd.Dir = clone
	// Free loopback ports instead of the defaults (:8080, :1883, :9100),
	// so the test can run beside anything else.
	cmd.Env = append(os.Environ(),
		"IOC_LISTEN=127.0.0.1:"+strconv.Itoa(testenv.FreePort(t)),
		"IOC_BROKER_LISTEN=127.0.0.1:"+strconv.Itoa(testenv.FreePort(t)),
		"IOC_HTTP_LISTEN=127.0.0.1:"+strconv.Itoa(testenv.FreePort(t)),
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(t.TempDir(), "stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("the run command did not stop cleanly on SIGTERM: %v", err)
			}
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Error("the run command did not stop within 20s of SIGTERM")
		}
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			t.Logf("its log:\n%s", tail(string(b), 4000))
		}
	})

	// The wall's URL, as printed for the newcomer.
	wall := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Wall:"); ok {
				wall <- strings.TrimSpace(u)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var wallURL string
	select {
	case wallURL = <-wall:
	case err := <-exited:
		t.Fatalf("the run command exited: %v", err)
	case <-time.After(4 * time.Minute):
		t.Fatal("no wall URL printed within 4 minutes")
	}
	t.Logf("wall at %s", wallURL)
	base := strings.TrimSuffix(wallURL, "/wall/")

	ctx := testenv.Chrome(t, 1920, 1080)
	testenv.Login(t, ctx, base, "operator", "/wall/", `body[data-connected="yes"]`)

	// Live data: the simulated cameras report in and count as online.
	var online string
	testenv.Browse(t, ctx, 60*time.Second, chromedp.Poll(`(() => {
		const e = document.querySelector('#summary .tile[data-kind="camera"]');
		return e && Number(e.dataset.total) >= 300 && Number(e.dataset.online) >= 300 ? e.dataset.online + "/" + e.dataset.total : null })()`,
		&online, chromedp.WithPollingTimeout(60*time.Second)))
	t.Logf("cameras online: %s", online)

	// The first scripted incident (a tampered camera, seconds after start)
	// is on the wall as a critical alert.
	var alert string
	testenv.Browse(t, ctx, 90*time.Second, chromedp.Poll(`(() => {
		const e = document.querySelector('#feed li[data-alert^="camera-tamper/"].sev-critical');
		return e ? e.dataset.alert : null })()`, &alert, chromedp.WithPollingTimeout(90*time.Second)))
	t.Logf("incident on the wall: %s", alert)
	testenv.Screenshot(t, ctx, testenv.Artifacts(t, root), "readme-wall-1920x1080")
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprint("...", s[len(s)-n:])
}
