package allinone_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/allinone"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// TestProvisionInAllInOne (issue 17): in `ioc-all` an admin's new device
// and its secret are in force in the IOC server and in ingest's broker as
// soon as the API answers: the device is served, connects with the secret
// and its reading is stored, with no SIGHUP and no restart.
func TestProvisionInAllInOne(t *testing.T) {
	dir := t.TempDir()
	copyTo := func(name string) string { return testenv.CopyFile(t, "../../configs/"+name, dir) }
	port := func() string { return "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)) }
	c, err := allinone.LoadConfig([]string{"-config", "../../configs/all-in-one.yaml", "-simulate", "false",
		"-data-dir", filepath.Join(dir, "data"), "-registry", copyTo("province.yaml"),
		"-listen", port(), "-broker.listen", port(), "-http.listen", port()}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c.Ingest.Credentials = copyTo("credentials.yaml")
	c.Ingest.Alerts.Rules = "../../configs/rules.yaml"
	c.IOC.Credentials = c.Ingest.Credentials
	c.IOC.Rules, c.IOC.Outline, c.IOC.DistrictBoundaries = "", "", ""
	c.IOC.Auth.SessionSecret = "test-secret-test-secret-test-secret-0123"

	base := runAllInOne(t, c)

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	var csrf string
	do := func(method, path string, body any) (int, []byte) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", base)
		req.Header.Set("X-CSRF-Token", csrf)
		r, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		out, _ := io.ReadAll(r.Body)
		return r.StatusCode, out
	}
	code, body := do("POST", "/api/v1/login", map[string]string{"username": "admin", "password": "demo-admin"})
	var s struct{ CSRF string }
	if code != 200 || json.Unmarshal(body, &s) != nil {
		t.Fatalf("login: %d %s", code, body)
	}
	csrf = s.CSRF

	const dev = "wl-antoan-01"
	if code, body := do("POST", "/api/v1/admin/devices", map[string]any{"id": dev, "kind": "sensor", "name": "Mực nước An Toàn 01",
		"district": "dong-hy", "integrator": "envsense", "lat": 21.62, "lon": 105.9, "commissioning": true}); code != http.StatusCreated {
		t.Fatalf("add device: %d %s", code, body)
	}
	code, body = do("POST", "/api/v1/admin/devices/"+dev+"/secret", nil)
	var sec struct{ Username, Secret string }
	if code != 200 || json.Unmarshal(body, &sec) != nil || sec.Username != dev {
		t.Fatalf("secret: %d %s", code, body)
	}
	if code, body := do("GET", "/api/v1/devices/"+dev, nil); code != 200 {
		t.Fatalf("the new device is not served: %d %s", code, body)
	}
	cl := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + c.Ingest.Broker.Listen).SetClientID(dev).SetUsername(dev).
		SetPassword(sec.Secret).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect with the generated secret: %v", tok.Error())
	}
	defer cl.Disconnect(100)
	if tok := cl.Publish("ioc/v1/envsense/"+dev+"/telemetry", 1, false, `{"water_level_cm": 312}`); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	testenv.Eventually(t, 20*time.Second, func() error {
		code, body := do("GET", "/api/v1/devices/"+dev+"/history?measurement=telemetry&from="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), nil)
		if code != 200 || !bytes.Contains(body, []byte(`"mean":312`)) {
			return &stillWaiting{string(body)}
		}
		return nil
	})
}

type stillWaiting struct{ body string }

func (e *stillWaiting) Error() string { return "the reading is not stored yet: " + e.body }

// runAllInOne runs ioc-all on c until the test ends and returns the IOC
// server's base URL once it serves.
func runAllInOne(t *testing.T, c *allinone.Config) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- allinone.Run(ctx, c, allinone.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Ready: func(a net.Addr) { ready <- a }})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("ioc-all did not stop in 20s")
		}
	})
	select {
	case a := <-ready:
		return "http://" + a.String()
	case err := <-done:
		t.Fatalf("ioc-all exited: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("ioc-all did not start in 60s")
	}
	return ""
}
