package ingestd_test

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/ingestd"
)

func noEnv(string) string { return "" }

func TestShippedConfigs(t *testing.T) {
	c, err := ingestd.LoadConfig([]string{"-config", "../../configs/ingest.yaml"}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	d := ingestd.DefaultConfig()
	if !reflect.DeepEqual(*c, d) {
		t.Fatalf("configs/ingest.yaml should spell out the defaults:\n got %+v\nwant %+v", *c, d)
	}
	if !c.EmbeddedBroker() || !c.EmbeddedStore() {
		t.Fatal("the default configuration must run the embedded broker and store")
	}
	p, err := ingestd.LoadConfig([]string{"-config", "../../configs/ingest-production.yaml"}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if p.EmbeddedBroker() || p.EmbeddedStore() {
		t.Fatal("the production configuration must use Mosquitto and InfluxDB")
	}
}

func TestBadConfigs(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"unknown-key.bad.yaml", []string{"line 3: field batch_size not found"}},
		{"bad-values.bad.yaml", []string{"pipeline.max_in_flight 100000", "pipeline.flush_interval -5ms", `log.level "loud"`}},
		{"influx-incomplete.bad.yaml", []string{"set org and bucket (InfluxDB 2.x) or database (InfluxDB 1.8)"}},
		{"bad-duration.bad.yaml", []string{"line 2", "forever"}},
		{"lease-embedded.bad.yaml", []string{"alerts.lease is for ingests sharing an external broker"}},
		{"lease-forward.bad.yaml", []string{"alerts.lease and alerts.forward together"}},
	} {
		_, err := ingestd.LoadConfig([]string{"-config", "testdata/" + tc.file}, noEnv, io.Discard)
		if err == nil {
			t.Errorf("%s: loaded, want an error", tc.file)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", tc.file, err, w)
			}
		}
	}
}

func TestPrecedence(t *testing.T) {
	env := map[string]string{"IOC_MQTT_BROKER": "tcp://env:1883", "IOC_MQTT_CLIENT_ID": "from-env", "IOC_INFLUX_URL": "http://env:8086", "IOC_INFLUX_DATABASE": "ioc"}
	c, err := ingestd.LoadConfig([]string{"-config", "../../configs/ingest-production.yaml", "-mqtt.broker", "tcp://flag:1883"},
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
	if _, err := ingestd.LoadConfig([]string{"-nope"}, noEnv, io.Discard); err == nil {
		t.Error("unknown flag accepted")
	}
}

// TestClientIDNotGuessable: ingest's default MQTT client id is random,
// generated once and kept in data_dir (0600) for its persistent session;
// it is not the host name.
func TestClientIDNotGuessable(t *testing.T) {
	if id := ingestd.DefaultConfig().MQTT.ClientID; id != "" {
		t.Errorf("ingest's default client id %q: want it generated in data_dir", id)
	}
	dir := t.TempDir()
	id, err := ingestd.ClientID(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := ingestd.ClientID(dir)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ingestd.ClientID(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if id != again || id == other || !strings.HasPrefix(id, "ioc-ingest-") || len(id) < len("ioc-ingest-")+20 {
		t.Errorf("ingest client ids %q, %q (same dir), %q (another): want stable per data_dir, random", id, again, other)
	}
	fi, err := os.Stat(filepath.Join(dir, "mqtt-client-id"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("client id file mode %v, want 0600", fi.Mode().Perm())
	}
}

// TestEveryPathAndSecretFromTheEnvironment: what a production install sets
// per machine (paths, addresses, InfluxDB 1.8 or 2.x credentials) can come
// from IOC_* variables (systemd's EnvironmentFile), so that no secret has to
// sit in a YAML file (the IOC server's half is in internal/iocd).
func TestEveryPathAndSecretFromTheEnvironment(t *testing.T) {
	env := map[string]string{
		"IOC_DATA_DIR": "/srv/ioc", "IOC_REGISTRY": "/srv/devices.yaml", "IOC_CREDENTIALS": "/srv/credentials.yaml",
		"IOC_ALERT_RULES": "/srv/rules.yaml", "IOC_HTTP_INGEST_TLS_CERT": "/srv/tls/c.pem", "IOC_HTTP_INGEST_TLS_KEY": "/srv/tls/k.pem",
		"IOC_INFLUX_DATABASE": "ioc", "IOC_INFLUX_USERNAME": "u", "IOC_INFLUX_PASSWORD": "p", "IOC_INFLUX_TOKEN": "t",
		"IOC_MQTT_PASSWORD": "m",
	}
	c, err := ingestd.LoadConfig([]string{"-config", "../../configs/ingest-production.yaml"}, func(k string) string { return env[k] }, io.Discard)
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
}
