package iocd_test

import (
	"io"
	"strings"
	"testing"

	"github.com/ioc-vn/ioc/internal/iocd"
	"github.com/ioc-vn/ioc/internal/mqttsub"
)

func TestShippedProductionConfig(t *testing.T) {
	env := func(k string) string {
		return map[string]string{"IOC_INFLUX_TOKEN": "t", "IOC_MQTT_PASSWORD": "p"}[k]
	}
	w, err := iocd.LoadConfig([]string{"-config", "../../configs/ioc-production.yaml"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if w.Influx.URL == "" || !w.Auth.SecureCookie {
		t.Fatal("the production ioc configuration must read InfluxDB and use secure cookies")
	}
}

// TestClientIDNotGuessable: the IOC server's MQTT client id is random at
// each start, not the host name.
func TestClientIDNotGuessable(t *testing.T) {
	// Two starts, two ids: one made from the host name would be the same
	// twice. (Not "contains the host name": a short one, such as "vm", is
	// found in random letters.)
	a, b := iocd.DefaultConfig().MQTT.ClientID, iocd.DefaultConfig().MQTT.ClientID
	if a == b || !strings.HasPrefix(a, "ioc-web-") || len(a) < len("ioc-web-")+20 {
		t.Errorf("ioc client ids %q, %q: want ioc-web-<random>, new each start", a, b)
	}
	if err := (&mqttsub.Config{Broker: "tcp://x:1883", ClientID: a, Topics: []string{"x"}}).Validate(); err != nil {
		t.Errorf("generated id: %v", err)
	}
}

// TestEveryPathAndSecretFromTheEnvironment: the IOC server's paths and
// secrets can come from IOC_* variables (systemd's EnvironmentFile), as
// ingest's can (internal/ingestd).
func TestEveryPathAndSecretFromTheEnvironment(t *testing.T) {
	env := map[string]string{
		"IOC_REGISTRY": "/srv/devices.yaml", "IOC_OUTLINE": "/srv/outline.geojson", "IOC_AUDIT_LOG": "/srv/audit.log", "IOC_KIOSKS": "/srv/kiosks.json",
		"IOC_CREDENTIALS": "/srv/credentials.yaml", "IOC_INGEST_RELOAD_URL": "http://127.0.0.1:9101/-/reload",
		"IOC_INFLUX_DATABASE": "ioc", "IOC_INFLUX_USERNAME": "u", "IOC_INFLUX_PASSWORD": "p", "IOC_INFLUX_TOKEN": "t",
		"IOC_MQTT_PASSWORD": "m", "IOC_SESSION_SECRET": strings.Repeat("s", 32),
	}
	w, err := iocd.LoadConfig([]string{"-config", "../../configs/ioc-production.yaml"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ got, env string }{
		{w.Registry, "IOC_REGISTRY"}, {w.Outline, "IOC_OUTLINE"}, {w.AuditLog, "IOC_AUDIT_LOG"}, {w.Kiosks, "IOC_KIOSKS"},
		{w.Credentials, "IOC_CREDENTIALS"}, {w.IngestReloadURL, "IOC_INGEST_RELOAD_URL"},
		{w.Influx.Database, "IOC_INFLUX_DATABASE"}, {w.Influx.Username, "IOC_INFLUX_USERNAME"}, {w.Influx.Password, "IOC_INFLUX_PASSWORD"},
		{w.Influx.Token, "IOC_INFLUX_TOKEN"}, {w.MQTT.Password, "IOC_MQTT_PASSWORD"}, {w.Auth.SessionSecret, "IOC_SESSION_SECRET"},
	} {
		if f.got != env[f.env] {
			t.Errorf("ioc: %s=%q gave %q", f.env, env[f.env], f.got)
		}
	}
}
