package testenv

import (
	"context"
	"log/slog"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ioc-vn/ioc/internal/config"
	"github.com/ioc-vn/ioc/internal/ingestd"
)

// IngestConfig is ingest's default configuration for a test: the registry
// file and the shipped rules and accounts from configsDir, a temp data
// dir, the embedded broker and HTTP on free loopback ports, warnings only.
func IngestConfig(t TB, configsDir, registry string) *config.Ingest {
	c := config.Default()
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
	Broker  string // tcp://host:port of the embedded broker
	HTTP    string // host:port of metrics, health and status
	DataDir string
}

// StartIngest runs ingest with c until the test ends.
func StartIngest(t TB, c *config.Ingest, log *slog.Logger) *Ingest {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- ingestd.Run(ctx, c, ingestd.Options{Log: log, Started: func(a string) { started <- a }})
	}()
	in := &Ingest{Broker: "tcp://" + c.Broker.Listen, DataDir: c.DataDir}
	select {
	case in.HTTP = <-started:
	case err := <-done:
		cancel()
		t.Fatalf("ingest exited at start: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("ingest did not start in 30s")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("ingest: %v", err)
		}
	})
	return in
}
