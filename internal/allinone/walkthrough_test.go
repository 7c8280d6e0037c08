package allinone_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/allinone"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// step is one shell block of the walkthrough and the output the doc
// says it prints.
type step struct {
	name   string
	script string
	want   []string
}

// walkthrough reads the shell blocks marked "# walkthrough:" from doc, in
// order, each with the text block that follows it (its output).
func walkthrough(t *testing.T, doc string) []step {
	t.Helper()
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	var steps []step
	block := func(i int) ([]string, int) { // the lines of the block opening at i, and the line after it
		var out []string
		for j := i + 1; j < len(lines); j++ {
			if lines[j] == "```" {
				return out, j + 1
			}
			out = append(out, lines[j])
		}
		t.Fatalf("%s: the block at line %d is not closed", doc, i+1)
		return nil, 0
	}
	for i := 0; i < len(lines); i++ {
		if lines[i] != "```sh" || i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "# walkthrough:") {
			continue
		}
		body, next := block(i)
		s := step{name: strings.TrimSpace(strings.TrimPrefix(body[0], "# walkthrough:")), script: strings.Join(body, "\n")}
		if next < len(lines) && lines[next] == "```text" {
			s.want, next = block(next)
		}
		steps = append(steps, s)
		i = next - 1
	}
	return steps
}

// TestOnboardingWalkthrough follows the walkthrough in INTEGRATORS.md as
// written: its shell blocks run in order in one shell against an
// all-in-one on free ports (IOC_URL, MQTT_HOST and MQTT_PORT set as the
// doc says), and each block must print exactly the text the doc shows
// after it. An admin adds a new integrator, its account and a sensor by
// the API; the integrator publishes with mosquitto_pub, logs in with its
// account and sees the reading as stored, and finds the report of a
// refused reading in its persistent _errors session.
func TestOnboardingWalkthrough(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq", "mosquitto_pub", "mosquitto_sub"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (scripts/test installs it): %v", tool, err)
		}
	}
	steps := walkthrough(t, "../../docs/INTEGRATORS.md")
	if len(steps) < 8 {
		t.Fatalf("%d walkthrough blocks in INTEGRATORS.md, want the 8 steps", len(steps))
	}

	dir := t.TempDir()
	copyTo := func(name string) string { return testenv.CopyFile(t, "../../configs/"+name, dir) }
	mqttPort := strconv.Itoa(testenv.FreePort(t))
	port := func() string { return "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)) }
	c, err := allinone.LoadConfig([]string{"-config", "../../configs/all-in-one.yaml", "-simulate", "false",
		"-data-dir", filepath.Join(dir, "data"), "-registry", copyTo("province.yaml"),
		"-listen", port(), "-broker.listen", "127.0.0.1:" + mqttPort, "-http.listen", port()}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c.Ingest.Credentials = copyTo("credentials.yaml")
	c.Ingest.Alerts.Rules = "../../configs/rules.yaml"
	c.IOC.Credentials = c.Ingest.Credentials
	c.IOC.Rules, c.IOC.Outline, c.IOC.DistrictBoundaries = "", "", ""
	c.IOC.Auth.SessionSecret = "test-secret-test-secret-test-secret-0123"

	base := runAllInOne(t, c)

	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for i, s := range steps {
		fmt.Fprintf(&script, "echo '@@step %d'\n%s\n", i, s.script)
	}
	work := t.TempDir()
	runCtx, stop := context.WithTimeout(context.Background(), 3*time.Minute)
	defer stop()
	cmd := exec.CommandContext(runCtx, "bash", "-c", script.String())
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "IOC_URL="+base, "MQTT_HOST=127.0.0.1", "MQTT_PORT="+mqttPort)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()

	got := make([][]string, len(steps))
	cur := -1
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		l := sc.Text()
		if n, ok := strings.CutPrefix(l, "@@step "); ok {
			cur, _ = strconv.Atoi(n)
			continue
		}
		if cur >= 0 {
			got[cur] = append(got[cur], l)
		}
	}
	for i, s := range steps {
		if i > cur {
			t.Errorf("step %q did not run", s.name)
			continue
		}
		if strings.Join(got[i], "\n") != strings.Join(s.want, "\n") {
			t.Errorf("step %q printed:\n%s\nthe doc says:\n%s", s.name, strings.Join(got[i], "\n"), strings.Join(s.want, "\n"))
		}
	}
	if runErr != nil {
		t.Errorf("the walkthrough stopped: %v\n%s", runErr, stderr.String())
	}
}
