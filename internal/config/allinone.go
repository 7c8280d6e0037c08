package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"

	"github.com/ioc-vn/ioc/internal/sim"
)

// AllInOne is the configuration of `ioc all`: ingest (with its embedded
// broker), the IOC server and the province simulator in one process.
type AllInOne struct {
	Ingest Ingest `yaml:"ingest"`
	IOC    IOC    `yaml:"ioc"`
	// Simulate runs the province simulator inside the process.
	Simulate  bool       `yaml:"simulate"`
	Simulator sim.Config `yaml:"simulator"`
}

// DefaultAllInOne runs the simulated province of configs/province.yaml.
// The IOC server's broker, store and registry, and the simulator's
// broker, follow ingest's unless set.
func DefaultAllInOne() AllInOne {
	c := AllInOne{Ingest: Default(), IOC: DefaultIOC(), Simulate: true, Simulator: sim.DefaultConfig()}
	c.Ingest.Registry = "configs/province.yaml"
	c.IOC.Registry, c.IOC.MQTT.Broker, c.IOC.EmbeddedStore, c.IOC.AuditLog, c.Simulator.Broker = "", "", "", "", ""
	return c
}

func allInOneOverrides() []override[AllInOne] {
	str := str[AllInOne]
	return []override[AllInOne]{
		{"data-dir", "IOC_DATA_DIR", "directory for the store, broker sessions, journal, alert state and audit log", str(func(c *AllInOne) *string { return &c.Ingest.DataDir })},
		{"registry", "IOC_REGISTRY", "device registry YAML file", str(func(c *AllInOne) *string { return &c.Ingest.Registry })},
		{"listen", "IOC_LISTEN", "HTTP address of the wall, pages, API and websocket", str(func(c *AllInOne) *string { return &c.IOC.Listen })},
		{"broker.listen", "IOC_BROKER_LISTEN", "embedded MQTT broker's listen address", str(func(c *AllInOne) *string { return &c.Ingest.Broker.Listen })},
		{"http.listen", "IOC_HTTP_LISTEN", "address of ingest's /metrics, /healthz, /readyz", str(func(c *AllInOne) *string { return &c.Ingest.HTTP.Listen })},
		{"influx.url", "IOC_INFLUX_URL", "InfluxDB URL; empty uses the embedded store", str(func(c *AllInOne) *string { return &c.Ingest.Influx.URL })},
		{"session-secret", "IOC_SESSION_SECRET", "secret signing session cookies (32+ characters)", str(func(c *AllInOne) *string { return &c.IOC.Auth.SessionSecret })},
		{"simulate", "IOC_SIMULATE", "false: no simulated province, only real devices", func(c *AllInOne, v string) { c.Simulate = v == "true" || v == "1" }},
		{"log.level", "IOC_LOG_LEVEL", "debug, info, warn or error", func(c *AllInOne, v string) { c.Ingest.Log.Level, c.IOC.Log.Level = v, v }},
	}
}

// LoadAllInOne reads the all-in-one configuration as Load does ingest's.
func LoadAllInOne(args []string, getenv func(string) string, usage io.Writer) (*AllInOne, error) {
	return load("ioc all", "configs/all-in-one.yaml", args, getenv, usage, DefaultAllInOne(), allInOneOverrides(), (*AllInOne).Validate)
}

// Validate fills in what follows from ingest's settings, then checks all
// three parts.
func (c *AllInOne) Validate() error {
	if !c.Ingest.EmbeddedBroker() {
		return errors.New("ingest.mqtt.broker: the all-in-one process runs its own broker; run ingest and ioc separately to use an external one")
	}
	_, port, err := net.SplitHostPort(c.Ingest.Broker.Listen)
	if err != nil {
		return fmt.Errorf("ingest.embedded_broker.listen %q: %w", c.Ingest.Broker.Listen, err)
	}
	local := "tcp://" + net.JoinHostPort("127.0.0.1", port)
	if c.IOC.MQTT.Broker == "" {
		c.IOC.MQTT.Broker = local
	}
	if c.Simulator.Broker == "" {
		c.Simulator.Broker = local
	}
	if c.IOC.Registry == "" {
		c.IOC.Registry = c.Ingest.Registry
	}
	if c.IOC.Influx.URL == "" && c.Ingest.Influx.URL != "" {
		c.IOC.Influx = c.Ingest.Influx
	}
	if c.IOC.EmbeddedStore == "" {
		c.IOC.EmbeddedStore = c.Ingest.StorePath()
	}
	if c.IOC.AuditLog == "" {
		c.IOC.AuditLog = filepath.Join(c.Ingest.DataDir, "audit.log")
	}
	errs := []error{prefix("ingest", c.Ingest.Validate()), prefix("ioc", c.IOC.Validate())}
	if c.Simulate {
		errs = append(errs, c.Simulator.Validate())
	}
	return errors.Join(errs...)
}

func prefix(p string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", p, err)
}
