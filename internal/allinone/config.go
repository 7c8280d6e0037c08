package allinone

import (
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"

	"github.com/ioc-vn/ioc/internal/config"
	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/iocd"
	"github.com/ioc-vn/ioc/internal/sim"
)

// Config is the configuration of `ioc-all`: ingest (with its embedded
// broker), the IOC server and the province simulator in one process.
type Config struct {
	Ingest ingestd.Config `yaml:"ingest"`
	IOC    iocd.Config    `yaml:"ioc"`
	// Simulate runs the province simulator inside the process.
	Simulate  bool       `yaml:"simulate"`
	Simulator sim.Config `yaml:"simulator"`
}

// DefaultConfig runs the simulated province of configs/province.yaml.
// The IOC server's broker, store, registry and credentials (for
// provisioning), and the simulator's
// broker, follow ingest's unless set.
func DefaultConfig() Config {
	c := Config{Ingest: ingestd.DefaultConfig(), IOC: iocd.DefaultConfig(), Simulate: true, Simulator: sim.DefaultConfig()}
	c.Ingest.Registry = "configs/province.yaml"
	c.IOC.Registry, c.IOC.MQTT.Broker, c.IOC.EmbeddedStore, c.IOC.AuditLog, c.Simulator.Broker = "", "", "", "", ""
	return c
}

func overrides() []config.Override[Config] {
	str, set := config.Text[Config], config.Setting[Config]
	return []config.Override[Config]{
		str("data-dir", "IOC_DATA_DIR", "directory for the store, broker sessions, journal, alert state and audit log", func(c *Config) *string { return &c.Ingest.DataDir }),
		str("registry", "IOC_REGISTRY", "device registry YAML file", func(c *Config) *string { return &c.Ingest.Registry }),
		str("listen", "IOC_LISTEN", "HTTP address of the wall, pages, API and websocket", func(c *Config) *string { return &c.IOC.Listen }),
		str("broker.listen", "IOC_BROKER_LISTEN", "embedded MQTT broker's listen address", func(c *Config) *string { return &c.Ingest.Broker.Listen }),
		str("http.listen", "IOC_HTTP_LISTEN", "address of ingest's /metrics, /healthz, /readyz", func(c *Config) *string { return &c.Ingest.HTTP.Listen }),
		str("influx.url", "IOC_INFLUX_URL", "InfluxDB URL; empty uses the embedded store", func(c *Config) *string { return &c.Ingest.Influx.URL }),
		str("session-secret", "IOC_SESSION_SECRET", "secret signing session cookies (32+ characters)", func(c *Config) *string { return &c.IOC.Auth.SessionSecret }),
		set("simulate", "IOC_SIMULATE", "false: no simulated province, only real devices", func(c *Config, v string) { c.Simulate = config.True(v) }),
		set("log.level", "IOC_LOG_LEVEL", "debug, info, warn or error", func(c *Config, v string) { c.Ingest.Log.Level, c.IOC.Log.Level = v, v }),
	}
}

// LoadConfig reads the all-in-one configuration: the file named by
// -config (if any), then the environment (getenv), then the other flags in
// args. usage receives -h output.
func LoadConfig(args []string, getenv func(string) string, usage io.Writer) (*Config, error) {
	return config.Loader[Config]{Name: "ioc-all", Example: "configs/all-in-one.yaml", Defaults: DefaultConfig(),
		Overrides: overrides(), Validate: (*Config).Validate}.Load(args, getenv, usage)
}

// Validate fills in what follows from ingest's settings, then checks all
// three parts.
func (c *Config) Validate() error {
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
	if c.IOC.Credentials == "" && c.Ingest.EmbeddedBroker() {
		c.IOC.Credentials = c.Ingest.Credentials
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
	// Notifications name people as the IOC server's users say, unless
	// the notify section names them itself.
	for _, u := range c.IOC.Auth.Users {
		if _, set := c.Ingest.Notify.People[u.Username]; !set && u.Name != "" {
			if c.Ingest.Notify.People == nil {
				c.Ingest.Notify.People = map[string]string{}
			}
			c.Ingest.Notify.People[u.Username] = u.Name
		}
	}
	errs := []error{config.Prefix("ingest", c.Ingest.Validate()), config.Prefix("ioc", c.IOC.Validate())}
	if c.Simulate {
		errs = append(errs, c.Simulator.Validate())
	}
	return errors.Join(errs...)
}
