package iocd_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReloadRegistry (issue 17): a device written into the registry of a
// running IOC server is served by GET /api/v1/devices/{id} after an
// admin's POST /api/v1/admin/reload, without a restart. A bad registry is
// refused whole with every error and the one in force stays; only an
// admin may reload, with the CSRF token; each reload is in the audit log.
func TestReloadRegistry(t *testing.T) {
	sys := startIngest(t)
	c := iocConfig(t, sys, "reload")
	orig, err := os.ReadFile(configs + "devices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c.Registry = filepath.Join(t.TempDir(), "devices.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(c.Registry, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(string(orig))
	base := startIOC(t, c)
	admin, operator := login(t, base, "admin"), login(t, base, "operator")

	const dev = "aq-antoan-01"
	withDevice := strings.Replace(string(orig), "integrators:\n", "integrators:\n  - {id: antoan-tn, name: \"Công ty An Toàn Thái Nguyên\"}\n", 1)
	withDevice = strings.Replace(withDevice, "devices:\n", "devices:\n  - {id: "+dev+", kind: sensor, name: \"AQ An Toàn 01\", district: tp-thai-nguyen, integrator: antoan-tn, lat: 21.59, lon: 105.84}\n", 1)
	write(withDevice)
	if code, body := admin.do("GET", "/api/v1/devices/"+dev, nil); code != http.StatusNotFound {
		t.Fatalf("before the reload: %d %s, want 404", code, body)
	}
	if code, body := operator.do("POST", "/api/v1/admin/reload", nil); code != http.StatusForbidden {
		t.Errorf("an operator's reload: %d %s, want 403", code, body)
	}
	if code, body := admin.do("POST", "/api/v1/admin/reload", nil, "X-CSRF-Token", ""); code != http.StatusForbidden {
		t.Errorf("a reload without the CSRF token: %d %s, want 403", code, body)
	}
	code, body := admin.do("POST", "/api/v1/admin/reload", nil)
	if code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, body)
	}
	if code, body := admin.do("GET", "/api/v1/devices/"+dev, nil); code != http.StatusOK {
		t.Fatalf("after the reload: %d %s, want 200", code, body)
	}

	// A device of an integrator the registry does not list: refused whole.
	write(strings.Replace(withDevice, "devices:\n", "devices:\n  - {id: aq-ghost-01, kind: sensor, name: \"Ghost\", district: tp-thai-nguyen, integrator: nobody, lat: 21.59, lon: 105.84}\n", 1))
	code, body = admin.do("POST", "/api/v1/admin/reload", nil)
	var refused struct{ Errors []string }
	if code != http.StatusUnprocessableEntity || json.Unmarshal(body, &refused) != nil || len(refused.Errors) == 0 || !strings.Contains(strings.Join(refused.Errors, "\n"), `integrator "nobody"`) {
		t.Errorf("bad registry reload: %d %s, want 422 naming integrator nobody", code, body)
	}
	if code, _ := admin.do("GET", "/api/v1/devices/aq-ghost-01", nil); code != http.StatusNotFound {
		t.Errorf("a device of the refused registry is served: %d", code)
	}
	if code, _ := admin.do("GET", "/api/v1/devices/"+dev, nil); code != http.StatusOK {
		t.Errorf("the registry in force was lost by a refused reload: %d", code)
	}

	var audit struct {
		Entries []struct{ Action, User, Result string }
	}
	admin.get("/api/v1/audit", &audit)
	var got []string
	for _, e := range audit.Entries {
		if e.Action == "reload" {
			got = append(got, e.User+" "+strings.SplitN(e.Result, ":", 2)[0])
		}
	}
	if strings.Join(got, ",") != "admin refused,admin ok" {
		t.Errorf("audited reloads (newest first) %q, want admin refused, admin ok", got)
	}
}
