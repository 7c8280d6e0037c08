package ingestd_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/ingest"
	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/loadgen"
	"github.com/ioc-vn/ioc/internal/quota"
	"github.com/ioc-vn/ioc/internal/testenv"
)

const sampleRegistry = "../../configs/devices.yaml"

// testConfig is a configuration for one test: its own data dir, free ports.
func testConfig(t *testing.T) *ingestd.Config {
	c := ingestd.DefaultConfig()
	c.DataDir = t.TempDir()
	c.Registry = sampleRegistry
	c.Alerts.Rules = "../../configs/rules.yaml"
	c.HTTP.Listen = "127.0.0.1:0"
	c.Broker.Listen = "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	c.MQTT.ClientID = "ingest-" + strings.ReplaceAll(t.Name(), "/", "-")
	c.Log.Level = "warn"
	c.Credentials = "../../configs/credentials.yaml" // used by the access and HTTP tests
	c.Broker.AllowAnonymous = true                   // the other tests publish anonymously
	c.Quotas = quota.Config{}                        // the quota tests set their own
	return &c
}

// running is an in-process ingest.
type running struct {
	BrokerURL string
	HTTP      string
	stop      func()
}

func startIngest(t *testing.T, c *ingestd.Config, now func() time.Time) *running {
	t.Helper()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	in := testenv.StartIngest(t, c, ingestd.Options{Log: log, Now: now})
	return &running{BrokerURL: in.Broker, HTTP: in.HTTP, stop: in.Stop}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// client connects a device-side MQTT client (clean session).
func client(t testing.TB, url, id string) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(true).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond).
		SetMaxReconnectInterval(time.Second).SetWriteTimeout(10 * time.Second)
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func publish(t testing.TB, c paho.Client, topic string, body []byte) {
	t.Helper()
	tok := c.Publish(topic, 1, false, body)
	if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// reports subscribes to every integrator's _errors topic.
func reports(t *testing.T, url string) <-chan ingest.Report {
	t.Helper()
	c := client(t, url, "errors-"+strings.ReplaceAll(t.Name(), "/", "-"))
	out := make(chan ingest.Report, 10000)
	tok := c.Subscribe("ioc/v1/+/_errors", 1, func(_ paho.Client, m paho.Message) {
		var r ingest.Report
		if err := json.Unmarshal(m.Payload(), &r); err != nil {
			t.Errorf("report on %s is not JSON: %v: %s", m.Topic(), err, m.Payload())
			return
		}
		if want := "ioc/v1/" + strings.Split(r.Topic, "/")[2] + "/_errors"; m.Topic() != want {
			t.Errorf("report for %s published on %s, want %s", r.Topic, m.Topic(), want)
		}
		out <- r
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return out
}

// influxCount sums count(field) over every measurement.
func influxCount(t testing.TB, in *testenv.Influx, field string) int {
	t.Helper()
	var resp struct {
		Results []struct {
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
			Error string `json:"error"`
		} `json:"results"`
	}
	body := in.InfluxQL(t, fmt.Sprintf(`SELECT count(%q) FROM /.*/`, field))
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatalf("count: %v: %s", err, body)
	}
	n := 0
	for _, r := range resp.Results {
		if r.Error != "" {
			t.Fatalf("count: %s", r.Error)
		}
		for _, s := range r.Series {
			for _, v := range s.Values {
				if f, ok := v[1].(float64); ok {
					n += int(f)
				}
			}
		}
	}
	return n
}

// metric reads one sample from ingest's /metrics.
func metric(t testing.TB, httpAddr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+" ") {
			v, _ := strconv.ParseFloat(strings.TrimSpace(line[len(name):]), 64)
			return v
		}
	}
	return 0
}

// writeRegistry writes loadgen's registry of n sensors.
func writeRegistry(t testing.TB, n int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "devices.yaml")
	if err := os.WriteFile(p, []byte(loadgen.RegistryYAML(n)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
