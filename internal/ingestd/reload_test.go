package ingestd_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/access"
	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/store"
	"github.com/ioc-vn/ioc/internal/store/embedded"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// copyFile copies src into dir and returns the copy's path.
func copyFile(t *testing.T, src, dir string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// reloadIngest calls POST /-/reload and returns the status and body.
func reloadIngest(t *testing.T, httpAddr string) (int, []byte) {
	t.Helper()
	resp, err := http.Post("http://"+httpAddr+"/-/reload", "", nil)
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// watched is an MQTT client whose connection loss is an event.
type watched struct {
	paho.Client
	lost chan error
}

func dialWatched(t *testing.T, url, id, user, pass string) *watched {
	t.Helper()
	w := &watched{lost: make(chan error, 1)}
	o := paho.NewClientOptions().AddBroker(url).SetClientID(id).SetUsername(user).SetPassword(pass).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).
		SetConnectionLostHandler(func(_ paho.Client, err error) { w.lost <- err })
	w.Client = paho.NewClient(o)
	if tok := w.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect as %s: %v", user, tok.Error())
	}
	t.Cleanup(func() { w.Disconnect(0) })
	return w
}

// TestReloadOnboardsWithoutRestart (issue 17): a new integrator, two of
// its devices and its account are written into the files of a running
// ingest (embedded broker, HTTP ingest); one reload puts them in force
// together and the account publishes at once, over MQTT and HTTP. A bad
// credentials file is refused whole, with the line of the bad account,
// and nothing changes. A removed account's connection is closed; another
// integrator's stays up. Nobody else is disconnected.
func TestReloadOnboardsWithoutRestart(t *testing.T) {
	dir := t.TempDir()
	c := testConfig(t)
	c.Broker.AllowAnonymous = false
	c.Registry = copyFile(t, sampleRegistry, dir)
	c.Credentials = copyFile(t, "../../configs/credentials.yaml", dir)
	c.HTTPIngest.Listen = "127.0.0.1:0"
	httpIngest := make(chan string, 1)
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ing := testenv.StartIngest(t, c, ingestd.Options{Log: log, HTTPIngestStarted: func(a string) { httpIngest <- a }})
	hiAddr := <-httpIngest

	envsense := dialWatched(t, ing.Broker, "envsense-gw", "envsense", "demo-envsense")
	smartcity := dialWatched(t, ing.Broker, "smartcity-gw", "smartcity-tn", "demo-smartcity-tn")

	const secret = "s3cret-antoan"
	hash, err := access.Hash(secret, 1000)
	if err != nil {
		t.Fatal(err)
	}
	oldCreds, _ := os.ReadFile(c.Credentials)
	oldReg, _ := os.ReadFile(c.Registry)
	newAccount := fmt.Sprintf("  - username: antoan-tn\n    role: integrator\n    integrator: antoan-tn\n    password_hash: %q\n", hash)

	// 1. A bad file: the new account is good, but a device account names
	// a device that is not registered. Refused whole, with its line.
	regWithAntoan := strings.Replace(string(oldReg), "integrators:\n", "integrators:\n  - {id: antoan-tn, name: \"Công ty An Toàn Thái Nguyên\"}\n", 1)
	regWithAntoan = strings.Replace(regWithAntoan, "devices:\n", "devices:\n"+
		"  - {id: aq-antoan-01, kind: sensor, name: \"AQ An Toàn 01\", district: tp-thai-nguyen, integrator: antoan-tn, lat: 21.59, lon: 105.84}\n"+
		"  - {id: aq-antoan-02, kind: sensor, name: \"AQ An Toàn 02\", district: tp-thai-nguyen, integrator: antoan-tn, lat: 21.59, lon: 105.85}\n", 1)
	writeFile(t, c.Registry, regWithAntoan)
	badLine := strings.Count(string(oldCreds)+newAccount, "\n") + 1
	writeFile(t, c.Credentials, string(oldCreds)+newAccount+
		"  - username: aq-antoan-09\n    role: device\n    integrator: antoan-tn\n    device: aq-antoan-09\n    password_hash: \""+hash+"\"\n")
	code, body := reloadIngest(t, ing.HTTP)
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("reload of a bad credentials file: %d %s, want 422", code, body)
	}
	var refused struct{ Errors []string }
	if err := json.Unmarshal(body, &refused); err != nil {
		t.Fatalf("refusal is not JSON: %s", body)
	}
	if want := fmt.Sprintf("line %d: account \"aq-antoan-09\": device \"aq-antoan-09\" is not in the device registry", badLine); len(refused.Errors) != 1 || !strings.Contains(refused.Errors[0], want) {
		t.Errorf("refusal errors %q, want one naming %q", refused.Errors, want)
	}
	if _, err := dial(ing.Broker, "antoan-early", "antoan-tn", secret); err == nil {
		t.Error("the new account of a refused file may connect")
	}
	vms, err := dial(ing.Broker, "vms-after-refusal", "vms-tn", "demo-vms-tn")
	if err != nil {
		t.Fatalf("an old account after a refused reload: %v", err)
	}
	vms.Disconnect(0)

	// 2. The good files: the new integrator's account in, smartcity-tn out.
	creds := removeAccount(t, string(oldCreds)+newAccount, "smartcity-tn")
	writeFile(t, c.Credentials, creds)
	code, body = reloadIngest(t, ing.HTTP)
	answered := time.Now()
	if code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, body)
	}
	var got ingestd.Reloaded
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if a := got.Accounts; a == nil || strings.Join(a.Added, ",") != "antoan-tn" || strings.Join(a.Removed, ",") != "smartcity-tn" || len(a.Changed) != 0 || got.Disconnected != 1 {
		t.Errorf("reload answered %s, want antoan-tn added, smartcity-tn removed and disconnected", body)
	}

	// The new account works at once: the first attempt, no retry (it was
	// refused before the reload: the limiter forgives it).
	antoan, err := dial(ing.Broker, "antoan-gw", "antoan-tn", secret)
	if err != nil {
		t.Fatalf("new account right after the reload: %v", err)
	}
	defer antoan.Disconnect(0)
	publish(t, antoan, "ioc/v1/antoan-tn/aq-antoan-01/telemetry", []byte(`{"pm25": 17}`))
	t.Logf("new account connected and acknowledged %v after the reload answer", time.Since(answered))
	ans, err := post(t, http.DefaultClient, "http://"+hiAddr+"/v1/ingest/antoan-tn/aq-antoan-02/telemetry", "antoan-tn", secret, `{"pm25": 18}`)
	if err != nil || ans.code != http.StatusOK {
		t.Errorf("HTTP ingest as the new account: %+v %v", ans, err)
	}
	if ans, _ := post(t, http.DefaultClient, "http://"+hiAddr+"/v1/ingest/smartcity-tn/sl-tp-01/telemetry", "smartcity-tn", "demo-smartcity-tn", `{"on": true}`); ans.code != http.StatusUnauthorized {
		t.Errorf("HTTP ingest as the removed account: %d, want 401", ans.code)
	}

	// The removed account's connection is closed; envsense's stays.
	select {
	case <-smartcity.lost:
	case <-time.After(10 * time.Second):
		t.Error("the removed account's connection is still open")
	}
	publish(t, envsense, "ioc/v1/envsense/aq-tp-01/telemetry", []byte(`{"pm25": 5}`))
	select {
	case err := <-envsense.lost:
		t.Errorf("envsense was disconnected by the reload: %v", err)
	default:
	}
	if _, err := dial(ing.Broker, "smartcity-again", "smartcity-tn", "demo-smartcity-tn"); err == nil {
		t.Error("the removed account may connect again")
	}

	st, err := embedded.Open(context.Background(), c.StorePath())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	testenv.Eventually(t, 10*time.Second, func() error {
		for _, d := range []string{"aq-antoan-01", "aq-antoan-02"} {
			pts, err := st.Query(context.Background(), store.Query{Device: d, From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)})
			if err != nil {
				return err
			}
			if len(pts) != 1 {
				return errors.New(d + " not stored")
			}
		}
		return nil
	})
}

// removeAccount drops the account named user from a credentials file's text.
func removeAccount(t *testing.T, creds, user string) string {
	t.Helper()
	start := strings.Index(creds, "  - username: "+user+"\n")
	if start < 0 {
		t.Fatalf("no account %s", user)
	}
	end := strings.Index(creds[start+1:], "  - username: ")
	if end < 0 {
		return creds[:start]
	}
	return creds[:start] + creds[start+1+end:]
}
