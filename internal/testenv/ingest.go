package testenv

import (
	"context"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/ioc-vn/ioc/internal/ingestd"
)

// IngestConfig is ingest's default configuration for a test: the registry
// file and the shipped rules and accounts from configsDir, a temp data
// dir, the embedded broker and HTTP on free loopback ports, warnings only.
func IngestConfig(t TB, configsDir, registry string) *ingestd.Config {
	c := ingestd.DefaultConfig()
	c.DataDir = t.TempDir()
	c.Registry = filepath.Join(configsDir, registry)
	c.Credentials = filepath.Join(configsDir, "credentials.yaml")
	c.Alerts.Rules = filepath.Join(configsDir, "rules.yaml")
	c.HTTP.Listen = "127.0.0.1:0"
	c.Broker.Listen = "127.0.0.1:" + strconv.Itoa(FreePort(t))
	c.Log.Level = "warn"
	return &c
}

// Ingest is an ingest running in the test's process.
type Ingest struct {
	Broker  string // the broker's URL: the embedded one, or mqtt.broker
	HTTP    string // host:port of metrics, health and status
	DataDir string
	stop    func()
}

// Stop stops ingest before the test ends (it stops at the end anyway).
func (in *Ingest) Stop() { in.stop() }

// StartIngest runs ingest with c and o until the test ends or Stop.
func StartIngest(t interface {
	TB
	Errorf(string, ...any)
}, c *ingestd.Config, o ingestd.Options) *Ingest {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan string, 1)
	done := make(chan error, 1)
	o.Started = func(a string) { started <- a }
	go func() { done <- ingestd.Run(ctx, c, o) }()
	in := &Ingest{Broker: c.MQTT.Broker, DataDir: c.DataDir}
	if c.EmbeddedBroker() {
		in.Broker = "tcp://" + c.Broker.Listen
	}
	select {
	case in.HTTP = <-started:
	case err := <-done:
		cancel()
		t.Fatalf("ingest exited at start: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("ingest did not start in 30s")
	}
	var once sync.Once
	in.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("ingest: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("ingest did not stop in 30s")
			}
		})
	}
	t.Cleanup(in.stop)
	return in
}
