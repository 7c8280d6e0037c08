package main

import (
	"io"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestDemoSecretsRefused is the security review's probe 262 for ioc: the
// shipped demo users, the demo MQTT password and an empty session secret
// are refused unless -demo (IOC_DEMO=true), and the refusal names them.
func TestDemoSecretsRefused(t *testing.T) {
	shipped := []string{"-config", "../../configs/ioc.yaml"}
	_, _, err := load(shipped, env(nil), io.Discard)
	if err == nil {
		t.Fatal("ioc started with the shipped demo users and no -demo")
	}
	for _, want := range []string{"user admin", "user operator", "user technician", "user viewer", "user technician-2", "mqtt.password", "session_secret", "-demo"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not name %s", err, want)
		}
	}
	if cfg, demo, err := load(append(shipped, "-demo"), env(nil), io.Discard); err != nil || !cfg.Demo || len(demo) != 9 { // 7 users (2 of them integrators), the MQTT password, the session secret
		t.Fatalf("with -demo: %v, demo secrets %q", err, demo)
	}
	if _, _, err := load(shipped, env(map[string]string{"IOC_DEMO": "true"}), io.Discard); err != nil {
		t.Fatalf("with IOC_DEMO=true: %v", err)
	}

	prod := map[string]string{"IOC_MQTT_PASSWORD": "a real password", "IOC_INFLUX_TOKEN": "t", "IOC_SESSION_SECRET": strings.Repeat("s", 32)}
	if _, demo, err := load([]string{"-config", "../../configs/ioc-production.yaml"}, env(prod), io.Discard); err != nil || len(demo) != 0 {
		t.Fatalf("the production example with its secrets set: %v %q", err, demo)
	}
	delete(prod, "IOC_SESSION_SECRET")
	if _, _, err := load([]string{"-config", "../../configs/ioc-production.yaml"}, env(prod), io.Discard); err == nil || !strings.Contains(err.Error(), "session_secret") {
		t.Fatalf("empty session secret: %v", err)
	}
}
