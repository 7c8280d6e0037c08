package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ioc-vn/ioc/internal/access"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestDemoSecretsRefused is the security review's probe 262: ingest with
// the shipped demo accounts starts only when told it is a demo, and the
// refusal names the accounts.
func TestDemoSecretsRefused(t *testing.T) {
	shipped := []string{"-config", "../../configs/ingest.yaml", "-credentials", "../../configs/credentials.yaml", "-registry", "../../configs/devices.yaml"}
	_, _, err := load(shipped, env(nil), io.Discard)
	if err == nil {
		t.Fatal("ingest started with the shipped demo accounts and no -demo")
	}
	for _, want := range []string{"vms-tn", "envsense", "smartcity-tn", "cam-bvtw-01", "ioc-ingest", "ioc-server", "-demo", "IOC_DEMO=true"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not name %s", err, want)
		}
	}
	for _, accept := range [][]string{append(shipped, "-demo"), shipped} {
		getenv := env(nil)
		if len(accept) == len(shipped) {
			getenv = env(map[string]string{"IOC_DEMO": "true"})
		}
		cfg, demo, err := load(accept, getenv, io.Discard)
		if err != nil || !cfg.Demo || len(demo) != 6 {
			t.Fatalf("with -demo or IOC_DEMO=true: %v, demo secrets %q", err, demo)
		}
	}

	// Real secrets: accepted without -demo. A device account is not run
	// through PBKDF2 (only compared with the shipped hashes).
	dir := t.TempDir()
	h, err := access.Hash("a generated secret 7f3a", 1000)
	if err != nil {
		t.Fatal(err)
	}
	creds := "accounts:\n" +
		"  - {username: vms-tn, role: integrator, integrator: vms-tn, password_hash: \"" + h + "\"}\n" +
		"  - {username: ioc-server, role: web, password_hash: \"" + h + "\"}\n"
	path := filepath.Join(dir, "credentials.yaml")
	if err := os.WriteFile(path, []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, demo, err := load([]string{"-config", "../../configs/ingest.yaml", "-credentials", path}, env(nil), io.Discard); err != nil || len(demo) != 0 {
		t.Fatalf("real secrets refused: %v %q", err, demo)
	}
	// A demo password hashed again is still found.
	h2, _ := access.Hash("demo-vms-tn", 1000)
	if err := os.WriteFile(path, []byte(strings.Replace(creds, h, h2, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := load([]string{"-config", "../../configs/ingest.yaml", "-credentials", path}, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "vms-tn") {
		t.Fatalf("demo-vms-tn under a fresh hash: %v", err)
	}
}
