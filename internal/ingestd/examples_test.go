package ingestd_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/access"
	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/store/embedded"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// TestExampleClients runs the integrator examples in docs/examples as an
// integrator would, against a real ingest on the embedded broker and on
// Mosquitto with the accounts `ingest mosquitto-files` generates: each
// publishes a reading that must be stored and a wrong one whose report it
// must receive on _errors (Python with Debian's python3-paho-mqtt, Node.js
// with mqtt from npm, Go with paho, the shell with mosquitto_pub and curl).
func TestExampleClients(t *testing.T) {
	if testing.Short() {
		t.Skip("runs four client programs per broker")
	}
	examples := "../../docs/examples"
	if _, err := os.Stat(filepath.Join(examples, "node/node_modules/mqtt")); err != nil {
		t.Fatal("docs/examples/node has no node_modules: scripts/test runs npm ci there")
	}
	goExample := filepath.Join(t.TempDir(), "example-go")
	if out, err := exec.Command("go", "build", "-o", goExample, "./"+filepath.Join(examples, "go")).CombinedOutput(); err != nil {
		t.Fatalf("go build docs/examples/go: %v\n%s", err, out)
	}
	clients := []struct {
		name, device string
		cmd          []string
	}{
		{"python", "aq-tp-01", []string{"/usr/bin/python3", filepath.Join(examples, "python/publish.py")}},
		{"node", "aq-tp-02", []string{"node", filepath.Join(examples, "node/publish.js")}},
		{"go", "aq-songcong-01", []string{goExample}},
		{"shell", "aq-dinhhoa-01", []string{"sh", filepath.Join(examples, "shell/publish.sh")}},
	}
	run := func(t *testing.T, c *ingestd.Config, host string, port int) {
		ing := startIngest(t, c, nil)
		if c.MQTT.Broker != "" {
			waitStatus(t, "http://"+ing.HTTP+"/readyz", 200, 15*time.Second)
		}
		for _, cl := range clients {
			cmd := exec.Command(cl.cmd[0], cl.cmd[1:]...)
			cmd.Env = append(os.Environ(), "IOC_MQTT_HOST="+host, "IOC_MQTT_PORT="+strconv.Itoa(port),
				"IOC_USERNAME=envsense", "IOC_PASSWORD=demo-envsense", "IOC_DEVICE="+cl.device)
			if cl.name == "shell" && c.HTTPIngest.Listen != "" {
				cmd.Env = append(cmd.Env, "IOC_HTTP_URL=http://"+c.HTTPIngest.Listen)
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("%s example: %v\n%s", cl.name, err, out)
				continue
			}
			if !strings.Contains(string(out), "stored: ioc/v1/envsense/"+cl.device+"/telemetry") || !strings.Contains(string(out), "wrong_type") {
				t.Errorf("%s example said:\n%s", cl.name, out)
			}
		}
		ing.stop()
		st, err := embedded.Open(context.Background(), c.StorePath())
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		for _, cl := range clients {
			waitStored(t, st, cl.device, "pm25=35.2,temp=31.5")
		}
		if lines := storedLines(t, st, "aq-dinhhoa-01"); c.HTTPIngest.Listen != "" && !strings.Contains(strings.Join(lines, "\n"), "pm25=36.1") {
			t.Errorf("the shell example's HTTP reading is not stored: %q", lines)
		}
	}

	t.Run("embedded", func(t *testing.T) {
		c := testConfig(t)
		c.Broker.AllowAnonymous = false
		c.HTTPIngest.Listen = "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
		host, port, _ := strings.Cut(c.Broker.Listen, ":")
		p, _ := strconv.Atoi(port)
		run(t, c, host, p)
	})
	t.Run("mosquitto", func(t *testing.T) {
		reg, err := registry.Load(sampleRegistry)
		if err != nil {
			t.Fatal(err)
		}
		policy, err := access.Load("../../configs/credentials.yaml", reg)
		if err != nil {
			t.Fatal(err)
		}
		passwd, acl := policy.MosquittoFiles()
		dir := t.TempDir()
		pf, af := filepath.Join(dir, "ioc.passwd"), filepath.Join(dir, "ioc.acl")
		for f, b := range map[string][]byte{pf: passwd, af: acl} {
			if err := os.WriteFile(f, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		mq := testenv.StartMosquitto(t, testenv.MosquittoOptions{PasswordFile: pf, ACLFile: af})
		c := testConfig(t)
		c.MQTT.Broker, c.MQTT.Username, c.MQTT.Password = mq.URL, "ioc-ingest", "demo-ioc-ingest"
		hostPort := strings.TrimPrefix(mq.URL, "tcp://")
		host, port, _ := strings.Cut(hostPort, ":")
		p, _ := strconv.Atoi(port)
		run(t, c, host, p)
	})
}
