package config

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/mqttsub"
)

func noEnv(string) string { return "" }

func TestShippedConfigs(t *testing.T) {
	c, err := Load([]string{"-config", "../../configs/ingest.yaml"}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	if !reflect.DeepEqual(*c, d) {
		t.Fatalf("configs/ingest.yaml should spell out the defaults:\n got %+v\nwant %+v", *c, d)
	}
	if !c.EmbeddedBroker() || !c.EmbeddedStore() {
		t.Fatal("the default configuration must run the embedded broker and store")
	}
	p, err := Load([]string{"-config", "../../configs/ingest-production.yaml"}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if p.EmbeddedBroker() || p.EmbeddedStore() {
		t.Fatal("the production configuration must use Mosquitto and InfluxDB")
	}
	env := func(k string) string {
		return map[string]string{"IOC_INFLUX_TOKEN": "t", "IOC_MQTT_PASSWORD": "p"}[k]
	}
	w, err := LoadIOC([]string{"-config", "../../configs/ioc-production.yaml"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if w.Influx.URL == "" || !w.Auth.SecureCookie {
		t.Fatal("the production ioc configuration must read InfluxDB and use secure cookies")
	}
	a, err := LoadAllInOne([]string{"-config", "../../configs/all-in-one.yaml"}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// The IOC server follows ingest: its broker, store and registry.
	if a.IOC.MQTT.Broker != "tcp://127.0.0.1:1883" || a.IOC.EmbeddedStore != a.Ingest.StorePath() ||
		a.IOC.Registry != "configs/province.yaml" || a.Simulator.Broker != a.IOC.MQTT.Broker || !a.Simulate {
		t.Fatalf("all-in-one derived settings: %+v", a)
	}
	a, err = LoadAllInOne([]string{"-config", "../../configs/all-in-one.yaml"}, func(k string) string {
		return map[string]string{"IOC_BROKER_LISTEN": "127.0.0.1:2883", "IOC_SIMULATE": "false"}[k]
	}, io.Discard)
	if err != nil || a.IOC.MQTT.Broker != "tcp://127.0.0.1:2883" || a.Simulate {
		t.Fatalf("all-in-one with IOC_BROKER_LISTEN and IOC_SIMULATE: %+v, %v", a, err)
	}
}

func TestBadConfigs(t *testing.T) {
	f := func(file string, want ...string) {
		t.Helper()
		_, err := Load([]string{"-config", "testdata/" + file}, noEnv, io.Discard)
		if err == nil {
			t.Fatalf("%s: loaded, want an error", file)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Fatalf("%s: error %q does not contain %q", file, err, w)
			}
		}
	}
	f("unknown-key.bad.yaml", "line 3: field batch_size not found")
	f("bad-values.bad.yaml", "pipeline.max_in_flight 100000", "pipeline.flush_interval 0s", `log.level "loud"`)
	f("influx-incomplete.bad.yaml", "set org and bucket (InfluxDB 2.x) or database (InfluxDB 1.8)")
	f("bad-duration.bad.yaml", "line 2", "forever")
}

func TestPrecedence(t *testing.T) {
	env := map[string]string{"IOC_MQTT_BROKER": "tcp://env:1883", "IOC_MQTT_CLIENT_ID": "from-env", "IOC_INFLUX_URL": "http://env:8086", "IOC_INFLUX_DATABASE": "ioc"}
	c, err := Load([]string{"-config", "../../configs/ingest-production.yaml", "-mqtt.broker", "tcp://flag:1883"},
		func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.MQTT.Broker != "tcp://flag:1883" {
		t.Errorf("flag should beat env and file: broker %q", c.MQTT.Broker)
	}
	if c.MQTT.ClientID != "from-env" || c.Influx.URL != "http://env:8086" {
		t.Errorf("env should beat file: client_id %q, influx %q", c.MQTT.ClientID, c.Influx.URL)
	}
	if c.Influx.Org != "ioc" || c.Influx.Timeout != 30*time.Second {
		t.Errorf("file values kept where nothing overrides: %+v", c.Influx)
	}
	if _, err := Load([]string{"-nope"}, noEnv, io.Discard); err == nil {
		t.Error("unknown flag accepted")
	}
}

// TestClientIDsNotGuessable: ingest's default MQTT client id is random,
// generated once and kept in data_dir (0600) for its persistent session;
// the IOC server's is random at each start. Neither is the host name.
func TestClientIDsNotGuessable(t *testing.T) {
	host, _ := os.Hostname()
	if id := Default().MQTT.ClientID; id != "" {
		t.Errorf("ingest's default client id %q: want it generated in data_dir", id)
	}
	dir := t.TempDir()
	id, err := IngestClientID(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := IngestClientID(dir)
	if err != nil {
		t.Fatal(err)
	}
	other, err := IngestClientID(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if id != again || id == other || !strings.HasPrefix(id, "ioc-ingest-") || len(id) < len("ioc-ingest-")+20 || strings.Contains(id, host) {
		t.Errorf("ingest client ids %q, %q (same dir), %q (another): want stable per data_dir, random", id, again, other)
	}
	fi, err := os.Stat(filepath.Join(dir, "mqtt-client-id"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("client id file mode %v, want 0600", fi.Mode().Perm())
	}
	a, b := DefaultIOC().MQTT.ClientID, DefaultIOC().MQTT.ClientID
	if a == b || strings.Contains(a, host) || !strings.HasPrefix(a, "ioc-web-") {
		t.Errorf("ioc client ids %q, %q: want ioc-web-<random>, new each start", a, b)
	}
	if err := (&mqttsub.Config{Broker: "tcp://x:1883", ClientID: a, Topics: []string{"x"}}).Validate(); err != nil {
		t.Errorf("generated id: %v", err)
	}
}

// TestEveryPathAndSecretFromTheEnvironment: what a production install sets
// per machine (paths, addresses, InfluxDB 1.8 or 2.x credentials) can come
// from IOC_* variables (systemd's EnvironmentFile), so that no secret has to
// sit in a YAML file, for ingest and the IOC server alike.
func TestEveryPathAndSecretFromTheEnvironment(t *testing.T) {
	env := map[string]string{
		"IOC_DATA_DIR": "/srv/ioc", "IOC_REGISTRY": "/srv/devices.yaml", "IOC_CREDENTIALS": "/srv/credentials.yaml",
		"IOC_ALERT_RULES": "/srv/rules.yaml", "IOC_HTTP_INGEST_TLS_CERT": "/srv/tls/c.pem", "IOC_HTTP_INGEST_TLS_KEY": "/srv/tls/k.pem",
		"IOC_OUTLINE": "/srv/outline.geojson", "IOC_AUDIT_LOG": "/srv/audit.log",
		"IOC_INFLUX_DATABASE": "ioc", "IOC_INFLUX_USERNAME": "u", "IOC_INFLUX_PASSWORD": "p", "IOC_INFLUX_TOKEN": "t",
		"IOC_MQTT_PASSWORD": "m", "IOC_SESSION_SECRET": strings.Repeat("s", 32),
	}
	getenv := func(k string) string { return env[k] }
	c, err := Load([]string{"-config", "../../configs/ingest-production.yaml"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ got, env string }{
		{c.DataDir, "IOC_DATA_DIR"}, {c.Registry, "IOC_REGISTRY"}, {c.Credentials, "IOC_CREDENTIALS"}, {c.Alerts.Rules, "IOC_ALERT_RULES"},
		{c.HTTPIngest.TLSCert, "IOC_HTTP_INGEST_TLS_CERT"}, {c.HTTPIngest.TLSKey, "IOC_HTTP_INGEST_TLS_KEY"},
		{c.Influx.Database, "IOC_INFLUX_DATABASE"}, {c.Influx.Username, "IOC_INFLUX_USERNAME"}, {c.Influx.Password, "IOC_INFLUX_PASSWORD"},
		{c.Influx.Token, "IOC_INFLUX_TOKEN"}, {c.MQTT.Password, "IOC_MQTT_PASSWORD"},
	} {
		if f.got != env[f.env] {
			t.Errorf("ingest: %s=%q gave %q", f.env, env[f.env], f.got)
		}
	}
	w, err := LoadIOC([]string{"-config", "../../configs/ioc-production.yaml"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ got, env string }{
		{w.Registry, "IOC_REGISTRY"}, {w.Outline, "IOC_OUTLINE"}, {w.AuditLog, "IOC_AUDIT_LOG"},
		{w.Influx.Database, "IOC_INFLUX_DATABASE"}, {w.Influx.Username, "IOC_INFLUX_USERNAME"}, {w.Influx.Password, "IOC_INFLUX_PASSWORD"},
		{w.Influx.Token, "IOC_INFLUX_TOKEN"}, {w.MQTT.Password, "IOC_MQTT_PASSWORD"}, {w.Auth.SessionSecret, "IOC_SESSION_SECRET"},
	} {
		if f.got != env[f.env] {
			t.Errorf("ioc: %s=%q gave %q", f.env, env[f.env], f.got)
		}
	}
}
