package ingestd

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ioc-vn/ioc/internal/access"
	"github.com/ioc-vn/ioc/internal/alertd"
	"github.com/ioc-vn/ioc/internal/broker"
	"github.com/ioc-vn/ioc/internal/config"
	"github.com/ioc-vn/ioc/internal/ingest"
	"github.com/ioc-vn/ioc/internal/lease"
	"github.com/ioc-vn/ioc/internal/mqttsub"
	"github.com/ioc-vn/ioc/internal/notify"
	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/quota"
	"github.com/ioc-vn/ioc/internal/spool"
	"github.com/ioc-vn/ioc/internal/store/embedded"
	"github.com/ioc-vn/ioc/internal/store/influx"
)

// Config is the configuration of the ingest process (cmd/ingest).
type Config struct {
	// DataDir holds the embedded store, the broker's sessions and the stamp
	// journal.
	DataDir string `yaml:"data_dir"`
	// Registry is the device registry file.
	Registry string `yaml:"registry"`
	// Credentials is the accounts file: who may use the embedded broker and
	// HTTP ingest, and an external Mosquitto through `ingest mosquitto-files`.
	Credentials string `yaml:"credentials"`
	// MQTT is the broker ingest subscribes to. With an empty broker URL,
	// ingest starts the embedded broker and subscribes to it.
	MQTT   mqttsub.Config `yaml:"mqtt"`
	Broker broker.Config  `yaml:"embedded_broker"`
	// Influx is used when its url is set; otherwise the embedded store,
	// with its retention.
	Influx   influx.Config      `yaml:"influx"`
	Embedded embedded.Retention `yaml:"embedded_store"`
	// Spool, with InfluxDB: acknowledge once in the local disk spool.
	Spool    Spool          `yaml:"spool"`
	Pipeline ingest.Options `yaml:"pipeline"`
	// Alerts: the rules file and the alert lifecycle's timings.
	Alerts alertd.Config `yaml:"alerts"`
	// Notify tells people outside the room (docs/OPERATIONS.md).
	Notify notify.Config  `yaml:"notify"`
	Limits payload.Limits `yaml:"limits"`
	// Quotas bound each integrator's and device's rate on the embedded
	// broker (the sender is slowed) and HTTP ingest (429).
	Quotas quota.Config `yaml:"quotas"`
	HTTP   HTTP         `yaml:"http"`
	// HTTPIngest is the integrators' HTTP way in; off while listen is empty.
	HTTPIngest HTTPIngest `yaml:"http_ingest"`
	Log        config.Log `yaml:"log"`
	// Demo lets cmd/ingest start with the shipped demo accounts
	// (DemoSecrets); without it cmd/ingest refuses them.
	Demo bool `yaml:"demo"`
}

// Spool is the disk spool between ingest and InfluxDB (internal/spool).
type Spool struct {
	// Enabled puts the spool in front of InfluxDB; the embedded store is
	// local and durable itself and is never spooled.
	Enabled       bool `yaml:"enabled"`
	spool.Options `yaml:",inline"`
}

// SpoolDir is the spool's directory.
func (c *Config) SpoolDir() string { return filepath.Join(c.DataDir, "spool") }

// HTTPIngest configures POST /v1/ingest/... for integrators.
type HTTPIngest struct {
	Listen string `yaml:"listen"`
	// TLSCert and TLSKey serve it over HTTPS.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// Timeout bounds the wait for a request's data to be stored.
	Timeout       time.Duration `yaml:"timeout"`
	MaxConcurrent int           `yaml:"max_concurrent"`
	// MaxPerAccount bounds one account's requests in flight.
	MaxPerAccount int `yaml:"max_per_account"`
	// BodyTimeout bounds reading a request's body (before it takes a slot).
	BodyTimeout time.Duration `yaml:"body_timeout"`
	// IdleTimeout closes a keep-alive connection idle that long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
}

// HTTP is the metrics and health endpoint.
type HTTP struct {
	Listen string `yaml:"listen"`
	// Pprof serves /debug/pprof/ on the same listener; keep that listener
	// on loopback when it is on.
	Pprof bool `yaml:"pprof"`
	// IdleTimeout closes a keep-alive connection idle that long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
}

// EmbeddedBroker reports whether ingest runs its own broker.
func (c *Config) EmbeddedBroker() bool { return c.MQTT.Broker == "" }

// EmbeddedStore reports whether ingest stores into SQLite.
func (c *Config) EmbeddedStore() bool { return c.Influx.URL == "" }

// StorePath is the embedded store's file.
func (c *Config) StorePath() string { return filepath.Join(c.DataDir, "ioc.db") }

// JournalPath is the stamp journal's file.
func (c *Config) JournalPath() string { return filepath.Join(c.DataDir, "stamps.journal") }

// DefaultConfig returns the configuration used for anything a file does not set.
func DefaultConfig() Config {
	return Config{
		DataDir:     "data",
		Registry:    "configs/devices.yaml",
		Credentials: "configs/credentials.yaml",
		MQTT: mqttsub.Config{
			// Empty: ingest generates one on its first start and keeps it in
			// data_dir (ClientID): stable for its persistent session,
			// not guessable like a host name.
			Topics:    ingest.SubscribeFilters(),
			KeepAlive: 30 * time.Second,
		},
		Broker: broker.Config{Listen: ":1883", MaxPacketBytes: 1 << 20,
			ConnectTimeout: broker.DefaultConnectTimeout, MaxPendingPerAddress: broker.DefaultMaxPendingPerAddress},
		Influx:   influx.Config{Timeout: 30 * time.Second},
		Embedded: embedded.Retention{Raw: 30 * 24 * time.Hour, Rollup: 2 * 365 * 24 * time.Hour},
		Spool:    Spool{Enabled: true, Options: spool.Options{MaxBytes: spool.DefaultOptions.MaxBytes, DrainPoints: spool.DefaultOptions.DrainPoints}},
		Pipeline: ingest.DefaultOptions,
		Alerts: alertd.Config{Rules: "configs/rules.yaml", FlapWindow: 10 * time.Minute, Renotify: 15 * time.Minute, SurfaceAfter: 30 * time.Second, MaxAge: 10 * time.Minute,
			Lease: alertd.LeaseConfig{Options: lease.DefaultOptions}},
		Notify: notify.Config{Language: "vi", GroupWait: notify.DefaultGroupWait, GiveUpAfter: notify.DefaultGiveUpAfter},
		Limits: payload.DefaultLimits,
		HTTP:   HTTP{Listen: "127.0.0.1:9100", IdleTimeout: time.Minute},
		HTTPIngest: HTTPIngest{Timeout: 30 * time.Second, MaxConcurrent: 256, MaxPerAccount: 16,
			BodyTimeout: 10 * time.Second, IdleTimeout: time.Minute},
		Quotas: DefaultQuotas,
		Log:    config.DefaultLog,
	}
}

// DefaultQuotas are generous: they stop a runaway sender, not a busy one.
// A device may burst 1,000 messages (a backlog after an outage) and then
// send 100 a second; an integrator 20,000 a second after a 40,000 burst.
var DefaultQuotas = quota.Config{
	Integrator: quota.Limit{Rate: 20000, Burst: 40000, BytesRate: 32 << 20, BytesBurst: 64 << 20},
	Device:     quota.Limit{Rate: 100, Burst: 1000, BytesRate: 1 << 20, BytesBurst: 4 << 20},
}

func overrides() []config.Override[Config] {
	str, set := config.Text[Config], config.Setting[Config]
	return []config.Override[Config]{
		str("data-dir", "IOC_DATA_DIR", "directory for the embedded store, broker sessions and stamp journal", func(c *Config) *string { return &c.DataDir }),
		str("registry", "IOC_REGISTRY", "device registry YAML file", func(c *Config) *string { return &c.Registry }),
		str("mqtt.broker", "IOC_MQTT_BROKER", "external broker URL (tcp://host:1883); empty runs the embedded broker", func(c *Config) *string { return &c.MQTT.Broker }),
		str("mqtt.client-id", "IOC_MQTT_CLIENT_ID", "stable MQTT client id of this ingest process (default: generated once, kept in data_dir)", func(c *Config) *string { return &c.MQTT.ClientID }),
		str("mqtt.username", "IOC_MQTT_USERNAME", "MQTT username", func(c *Config) *string { return &c.MQTT.Username }),
		str("mqtt.password", "IOC_MQTT_PASSWORD", "MQTT password", func(c *Config) *string { return &c.MQTT.Password }),
		str("mqtt.shared-group", "IOC_MQTT_SHARED_GROUP", "share the subscription with other ingest processes in this group", func(c *Config) *string { return &c.MQTT.SharedGroup }),
		str("broker.listen", "IOC_BROKER_LISTEN", "embedded broker's listen address", func(c *Config) *string { return &c.Broker.Listen }),
		str("alerts.rules", "IOC_ALERT_RULES", "alert rules YAML file (empty: alerting off)", func(c *Config) *string { return &c.Alerts.Rules }),
		set("alerts.lease", "IOC_ALERTS_LEASE", "true: the ingests of a shared group each may own alerting, one at a time, by a lease on the broker", func(c *Config, v string) { c.Alerts.Lease.Enabled = config.True(v) }),
		str("credentials", "IOC_CREDENTIALS", "accounts file for the embedded broker and HTTP ingest", func(c *Config) *string { return &c.Credentials }),
		str("http-ingest.listen", "IOC_HTTP_INGEST_LISTEN", "address of the integrators' HTTP ingest (empty: off)", func(c *Config) *string { return &c.HTTPIngest.Listen }),
		str("http-ingest.tls-cert", "IOC_HTTP_INGEST_TLS_CERT", "certificate (PEM) of the HTTP ingest", func(c *Config) *string { return &c.HTTPIngest.TLSCert }),
		str("http-ingest.tls-key", "IOC_HTTP_INGEST_TLS_KEY", "private key (PEM) of the HTTP ingest", func(c *Config) *string { return &c.HTTPIngest.TLSKey }),
		set("broker.allow-anonymous", "IOC_BROKER_ALLOW_ANONYMOUS", "true lets clients connect without credentials (demo only)", func(c *Config, v string) { c.Broker.AllowAnonymous = config.True(v) }),
		str("influx.url", "IOC_INFLUX_URL", "InfluxDB URL; empty uses the embedded store", func(c *Config) *string { return &c.Influx.URL }),
		str("influx.org", "IOC_INFLUX_ORG", "InfluxDB 2.x organisation", func(c *Config) *string { return &c.Influx.Org }),
		str("influx.bucket", "IOC_INFLUX_BUCKET", "InfluxDB 2.x bucket", func(c *Config) *string { return &c.Influx.Bucket }),
		str("influx.token", "IOC_INFLUX_TOKEN", "InfluxDB 2.x token", func(c *Config) *string { return &c.Influx.Token }),
		str("influx.database", "IOC_INFLUX_DATABASE", "InfluxDB 1.8 database", func(c *Config) *string { return &c.Influx.Database }),
		str("influx.username", "IOC_INFLUX_USERNAME", "InfluxDB 1.8 username", func(c *Config) *string { return &c.Influx.Username }),
		str("influx.password", "IOC_INFLUX_PASSWORD", "InfluxDB 1.8 password", func(c *Config) *string { return &c.Influx.Password }),
		str("http.listen", "IOC_HTTP_LISTEN", "address of /metrics, /healthz, /readyz", func(c *Config) *string { return &c.HTTP.Listen }),
		set("quotas", "IOC_QUOTAS", "off removes every quota (benchmarks)", func(c *Config, v string) {
			if v == "off" {
				c.Quotas = quota.Config{}
			}
		}),
		set("http.pprof", "IOC_HTTP_PPROF", "true serves /debug/pprof/ on the HTTP listener", func(c *Config, v string) { c.HTTP.Pprof = config.True(v) }),
		config.Switch("demo", "IOC_DEMO", "true lets ingest start with the shipped demo accounts (demo-<username> passwords)", func(c *Config, on bool) { c.Demo = on }),
		str("log.level", "IOC_LOG_LEVEL", "debug, info, warn or error", func(c *Config) *string { return &c.Log.Level }),
	}
}

// LoadConfig reads ingest's configuration: the file named by -config (if
// any), then the environment (getenv), then the other flags in args.
// usage receives -h output.
func LoadConfig(args []string, getenv func(string) string, usage io.Writer) (*Config, error) {
	return config.Loader[Config]{Name: "ingest", Example: "configs/ingest.yaml", Defaults: DefaultConfig(),
		Overrides: overrides(), Validate: (*Config).Validate}.Load(args, getenv, usage)
}

// Validate checks the whole configuration and reports every problem.
func (c *Config) Validate() error {
	var p problems
	if c.DataDir == "" {
		p.bad("data_dir is empty")
	}
	if c.Registry == "" {
		p.bad("registry is empty")
	}
	c.checkSource(&p)
	c.checkStore(&p)
	c.checkPipeline(&p)
	c.checkLimits(&p)
	for _, err := range c.Log.Validate() {
		p.add(err)
	}
	if c.HTTP.Listen == "" {
		p.bad("http.listen is empty")
	}
	if h := c.HTTPIngest; h.Listen != "" {
		if c.Credentials == "" {
			p.bad("http_ingest needs credentials: it authenticates integrators with their accounts")
		}
		if (h.TLSCert == "") != (h.TLSKey == "") {
			p.bad("http_ingest: set both tls_cert and tls_key, or neither")
		}
		if h.Timeout <= 0 || h.MaxConcurrent < 1 {
			p.bad("http_ingest: timeout and max_concurrent must be positive")
		}
	}
	return errors.Join(p...)
}

// problems collects what is wrong with a configuration.
type problems []error

func (p *problems) bad(format string, args ...any) { *p = append(*p, fmt.Errorf(format, args...)) }

func (p *problems) add(err error) {
	if err != nil {
		*p = append(*p, err)
	}
}

// checkSource checks the embedded broker, or the external one.
func (c *Config) checkSource(p *problems) {
	if !c.EmbeddedBroker() {
		m := c.MQTT
		if m.ClientID == "" {
			m.ClientID = "generated" // ClientID at start
		}
		if err := m.Validate(); err != nil {
			p.add(err)
		}
	} else {
		if c.Broker.Listen == "" {
			p.bad("embedded_broker.listen is empty")
		}
		if c.Broker.TLSListen != "" && (c.Broker.TLSCert == "" || c.Broker.TLSKey == "") {
			p.bad("embedded_broker.tls_listen needs tls_cert and tls_key")
		}
		if c.Credentials == "" && !c.Broker.AllowAnonymous {
			p.bad("credentials is empty: name the accounts file, or set embedded_broker.allow_anonymous for a demo")
		}
		if c.Broker.ConnectTimeout < 0 || c.Broker.MaxPendingPerAddress < 0 || c.Broker.ClientQueue < 0 {
			p.bad("embedded_broker.connect_timeout, max_pending_per_address and client_queue must not be negative (0 means the default)")
		}
	}
}

// checkStore checks InfluxDB or the embedded store, the spool and alert forwarding.
func (c *Config) checkStore(p *problems) {
	if !c.EmbeddedStore() {
		if err := c.Influx.Validate(); err != nil {
			p.add(err)
		}
	} else if err := c.Embedded.Validate(); err != nil {
		p.add(err)
	}
	p.add(c.Notify.Validate())
	if c.Alerts.Forward && (c.EmbeddedBroker() || c.MQTT.SharedGroup == "") {
		p.bad("alerts.forward is for an ingest in a shared group (mqtt.shared_group) on an external broker, forwarding to the group's alert owner")
	}
	if l := c.Alerts.Lease; l.Enabled {
		switch {
		case c.EmbeddedBroker():
			p.bad("alerts.lease is for ingests sharing an external broker (mqtt.broker); with the embedded broker this ingest owns alerting alone")
		case c.Alerts.Forward:
			p.bad("alerts.lease and alerts.forward together: with the lease every member may own alerting and forwards while it stands by; remove forward")
		case c.Alerts.Rules == "":
			p.bad("alerts.lease without alerts.rules: nothing to own")
		case l.TTL < 0 || l.Renew < 0 || l.Settle < 0 || (l.TTL > 0 && l.Renew >= l.TTL) || l.TTL > 5*time.Minute:
			p.bad("alerts.lease: ttl (at most 5m), renew (less than ttl) and settle must be positive durations or left out")
		}
	}
	if c.Spool.Enabled && (c.Spool.MaxBytes < 1<<20 || c.Spool.DrainPoints < 1) {
		p.bad("spool: max_bytes must be at least 1 MiB (%d) and drain_points positive (%d)", c.Spool.MaxBytes, c.Spool.DrainPoints)
	}
}

// checkPipeline checks the pipeline's window, batches and retries.
func (c *Config) checkPipeline(p *problems) {
	o := c.Pipeline
	if o.MaxInFlight < 1 || o.MaxInFlight > 65535 {
		p.bad("pipeline.max_in_flight %d: use 1..65535 (MQTT packet ids bound a session's in-flight messages)", o.MaxInFlight)
	}
	if o.BatchPoints < 1 {
		p.bad("pipeline.batch_points %d: must be positive", o.BatchPoints)
	}
	if o.FlushInterval < 0 || o.FlushInterval > 10*time.Second {
		p.bad("pipeline.flush_interval %s: use 0 (group commit) .. 10s", o.FlushInterval)
	}
	if o.WriteWorkers < 1 || o.WriteWorkers > 64 {
		p.bad("pipeline.write_workers %d: use 1..64", o.WriteWorkers)
	}
	if o.RetryMin <= 0 || o.RetryMax < o.RetryMin {
		p.bad("pipeline.retry_min %s / retry_max %s: need 0 < retry_min <= retry_max", o.RetryMin, o.RetryMax)
	}
}

// checkLimits checks the per-message limits, the cardinality bounds and the quotas.
func (c *Config) checkLimits(p *problems) {
	l := c.Limits
	if l.MaxBytes < 64 || l.MaxPoints < 1 || l.MaxFields < 1 || l.MaxKeyBytes < 8 || l.MaxStringBytes < 1 {
		p.bad("limits: max_bytes >= 64, max_points, max_fields, max_string_bytes >= 1 and max_key_bytes >= 8 are required")
	}
	if l.MaxTags < 1 || l.MaxTagBytes < 1 {
		p.bad("limits.max_tags and limits.max_tag_value_bytes must be at least 1")
	}
	if c.Pipeline.MaxSeriesPerDeviceHour < 1 || c.Pipeline.MaxMeasurementsPerIntegrator < 1 {
		p.bad("pipeline.max_series_per_device_hour and pipeline.max_measurements_per_integrator must be at least 1")
	}
	if l.MaxPast <= 0 || l.MaxFuture <= 0 {
		p.bad("limits.max_past and limits.max_future must be positive")
	}
	checkLimit := func(name string, q quota.Limit) {
		if q.Rate < 0 || q.BytesRate < 0 || (q.Rate > 0 && q.Burst < 1) || (q.BytesRate > 0 && q.BytesBurst < l.MaxBytes) {
			p.bad("quotas.%s: rates must be >= 0, with burst >= 1 and bytes_burst >= limits.max_bytes (%d) when set", name, l.MaxBytes)
		}
	}
	checkLimit("integrator", c.Quotas.Integrator)
	checkLimit("device", c.Quotas.Device)
	for id, q := range c.Quotas.Overrides {
		checkLimit("integrators."+id, q)
	}
}

// clientIDFile holds ingest's generated MQTT client id in data_dir.
const clientIDFile = "mqtt-client-id"

// ClientID returns the client id kept in dataDir, generating
// "ioc-ingest-<random>" (0600) on the first start. A broker binds a
// client id to the account whose session holds it, and a host name is
// easy to guess: a random id cannot be taken before ingest connects.
func ClientID(dataDir string) (string, error) {
	path := filepath.Join(dataDir, clientIDFile)
	if b, err := os.ReadFile(path); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("mqtt client id: %w", err)
	}
	id := "ioc-ingest-" + strings.ToLower(rand.Text())
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("mqtt client id: %w", err)
	}
	return id, nil
}

// DemoSecrets names the accounts of the credentials file whose password
// is the shipped demo one, and an external broker password that is. A
// device account is only compared with the shipped hashes (no key
// derivation for 10,000 devices); the few others are also tried with
// demo-<username>.
// cmd/ingest refuses to start with any of them unless Demo is set. A
// credentials file that cannot be read is left to ingest to report.
func (c *Config) DemoSecrets() []string {
	var out []string
	if b, err := os.ReadFile(c.Credentials); c.Credentials != "" && err == nil {
		var f access.File
		if config.Decode(b, &f) == nil {
			for _, a := range f.Accounts {
				if config.ShippedDemoHash(a.PasswordHash) || (a.Role != access.RoleDevice && access.Verify(a.PasswordHash, []byte("demo-"+a.Username))) {
					out = append(out, "account "+a.Username+" (password demo-"+a.Username+")")
				}
			}
		}
	}
	if !c.EmbeddedBroker() && c.MQTT.Password != "" && c.MQTT.Password == "demo-"+c.MQTT.Username {
		out = append(out, "mqtt.password of "+c.MQTT.Username+" (demo-"+c.MQTT.Username+")")
	}
	return out
}
