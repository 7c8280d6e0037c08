// Package config loads the ingest configuration: one YAML file (unknown keys
// are errors, reported with their line), then IOC_* environment variables,
// then command-line flags; defaults and validation live here and nowhere
// else. The zero configuration runs: embedded broker, embedded store.
package config

import (
	"bytes"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ioc-vn/ioc/internal/alertd"
	"github.com/ioc-vn/ioc/internal/broker"
	"github.com/ioc-vn/ioc/internal/ingest"
	"github.com/ioc-vn/ioc/internal/mqttsub"
	"github.com/ioc-vn/ioc/internal/notify"
	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/quota"
	"github.com/ioc-vn/ioc/internal/spool"
	"github.com/ioc-vn/ioc/internal/store/embedded"
	"github.com/ioc-vn/ioc/internal/store/influx"
	"gopkg.in/yaml.v3"
)

// Ingest is the configuration of cmd/ingest.
type Ingest struct {
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
	Log        Log        `yaml:"log"`
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
func (c *Ingest) SpoolDir() string { return filepath.Join(c.DataDir, "spool") }

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

// Log selects slog's level and format.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Logger returns a logger writing to w at the configured level and format.
func (l Log) Logger(w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(l.Level)))
	opts := &slog.HandlerOptions{Level: level}
	if l.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// validate reports an unknown level or format.
func (l Log) validate() []error {
	var errs []error
	switch strings.ToLower(l.Level) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level %q: use debug, info, warn or error", l.Level))
	}
	if l.Format != "text" && l.Format != "json" {
		errs = append(errs, fmt.Errorf("log.format %q: use text or json", l.Format))
	}
	return errs
}

// EmbeddedBroker reports whether ingest runs its own broker.
func (c *Ingest) EmbeddedBroker() bool { return c.MQTT.Broker == "" }

// EmbeddedStore reports whether ingest stores into SQLite.
func (c *Ingest) EmbeddedStore() bool { return c.Influx.URL == "" }

// StorePath is the embedded store's file.
func (c *Ingest) StorePath() string { return filepath.Join(c.DataDir, "ioc.db") }

// JournalPath is the stamp journal's file.
func (c *Ingest) JournalPath() string { return filepath.Join(c.DataDir, "stamps.journal") }

// Default returns the configuration used for anything a file does not set.
func Default() Ingest {
	return Ingest{
		DataDir:     "data",
		Registry:    "configs/devices.yaml",
		Credentials: "configs/credentials.yaml",
		MQTT: mqttsub.Config{
			// Empty: ingest generates one on its first start and keeps it in
			// data_dir (IngestClientID): stable for its persistent session,
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
		Alerts:   alertd.Config{Rules: "configs/rules.yaml", FlapWindow: 10 * time.Minute, Renotify: 15 * time.Minute, SurfaceAfter: 30 * time.Second, MaxAge: 10 * time.Minute},
		Notify:   notify.Config{Language: "vi", GroupWait: notify.DefaultGroupWait, GiveUpAfter: notify.DefaultGiveUpAfter},
		Limits:   payload.DefaultLimits,
		HTTP:     HTTP{Listen: "127.0.0.1:9100", IdleTimeout: time.Minute},
		HTTPIngest: HTTPIngest{Timeout: 30 * time.Second, MaxConcurrent: 256, MaxPerAccount: 16,
			BodyTimeout: 10 * time.Second, IdleTimeout: time.Minute},
		Quotas: DefaultQuotas,
		Log:    Log{Level: "info", Format: "text"},
	}
}

// DefaultQuotas are generous: they stop a runaway sender, not a busy one.
// A device may burst 1,000 messages (a backlog after an outage) and then
// send 100 a second; an integrator 20,000 a second after a 40,000 burst.
var DefaultQuotas = quota.Config{
	Integrator: quota.Limit{Rate: 20000, Burst: 40000, BytesRate: 32 << 20, BytesBurst: 64 << 20},
	Device:     quota.Limit{Rate: 100, Burst: 1000, BytesRate: 1 << 20, BytesBurst: 4 << 20},
}

// override is one setting that the environment and flags may change.
type override[T any] struct {
	flag, env, help string
	set             func(*T, string)
}

// str sets the string field p points to.
func str[T any](p func(*T) *string) func(*T, string) {
	return func(c *T, v string) { *p(c) = v }
}

func overrides() []override[Ingest] {
	str := str[Ingest]
	return []override[Ingest]{
		{"data-dir", "IOC_DATA_DIR", "directory for the embedded store, broker sessions and stamp journal", str(func(c *Ingest) *string { return &c.DataDir })},
		{"registry", "IOC_REGISTRY", "device registry YAML file", str(func(c *Ingest) *string { return &c.Registry })},
		{"mqtt.broker", "IOC_MQTT_BROKER", "external broker URL (tcp://host:1883); empty runs the embedded broker", str(func(c *Ingest) *string { return &c.MQTT.Broker })},
		{"mqtt.client-id", "IOC_MQTT_CLIENT_ID", "stable MQTT client id of this ingest process (default: generated once, kept in data_dir)", str(func(c *Ingest) *string { return &c.MQTT.ClientID })},
		{"mqtt.username", "IOC_MQTT_USERNAME", "MQTT username", str(func(c *Ingest) *string { return &c.MQTT.Username })},
		{"mqtt.password", "IOC_MQTT_PASSWORD", "MQTT password", str(func(c *Ingest) *string { return &c.MQTT.Password })},
		{"mqtt.shared-group", "IOC_MQTT_SHARED_GROUP", "share the subscription with other ingest processes in this group", str(func(c *Ingest) *string { return &c.MQTT.SharedGroup })},
		{"broker.listen", "IOC_BROKER_LISTEN", "embedded broker's listen address", str(func(c *Ingest) *string { return &c.Broker.Listen })},
		{"alerts.rules", "IOC_ALERT_RULES", "alert rules YAML file (empty: alerting off)", str(func(c *Ingest) *string { return &c.Alerts.Rules })},
		{"credentials", "IOC_CREDENTIALS", "accounts file for the embedded broker and HTTP ingest", str(func(c *Ingest) *string { return &c.Credentials })},
		{"http-ingest.listen", "IOC_HTTP_INGEST_LISTEN", "address of the integrators' HTTP ingest (empty: off)", str(func(c *Ingest) *string { return &c.HTTPIngest.Listen })},
		{"http-ingest.tls-cert", "IOC_HTTP_INGEST_TLS_CERT", "certificate (PEM) of the HTTP ingest", str(func(c *Ingest) *string { return &c.HTTPIngest.TLSCert })},
		{"http-ingest.tls-key", "IOC_HTTP_INGEST_TLS_KEY", "private key (PEM) of the HTTP ingest", str(func(c *Ingest) *string { return &c.HTTPIngest.TLSKey })},
		{"broker.allow-anonymous", "IOC_BROKER_ALLOW_ANONYMOUS", "true lets clients connect without credentials (demo only)", func(c *Ingest, v string) { c.Broker.AllowAnonymous = v == "true" || v == "1" }},
		{"influx.url", "IOC_INFLUX_URL", "InfluxDB URL; empty uses the embedded store", str(func(c *Ingest) *string { return &c.Influx.URL })},
		{"influx.org", "IOC_INFLUX_ORG", "InfluxDB 2.x organisation", str(func(c *Ingest) *string { return &c.Influx.Org })},
		{"influx.bucket", "IOC_INFLUX_BUCKET", "InfluxDB 2.x bucket", str(func(c *Ingest) *string { return &c.Influx.Bucket })},
		{"influx.token", "IOC_INFLUX_TOKEN", "InfluxDB 2.x token", str(func(c *Ingest) *string { return &c.Influx.Token })},
		{"influx.database", "IOC_INFLUX_DATABASE", "InfluxDB 1.8 database", str(func(c *Ingest) *string { return &c.Influx.Database })},
		{"influx.username", "IOC_INFLUX_USERNAME", "InfluxDB 1.8 username", str(func(c *Ingest) *string { return &c.Influx.Username })},
		{"influx.password", "IOC_INFLUX_PASSWORD", "InfluxDB 1.8 password", str(func(c *Ingest) *string { return &c.Influx.Password })},
		{"http.listen", "IOC_HTTP_LISTEN", "address of /metrics, /healthz, /readyz", str(func(c *Ingest) *string { return &c.HTTP.Listen })},
		{"quotas", "IOC_QUOTAS", "off removes every quota (benchmarks)", func(c *Ingest, v string) {
			if v == "off" {
				c.Quotas = quota.Config{}
			}
		}},
		{"http.pprof", "IOC_HTTP_PPROF", "true serves /debug/pprof/ on the HTTP listener", func(c *Ingest, v string) { c.HTTP.Pprof = v == "true" || v == "1" }},
		{"demo", "IOC_DEMO", "true lets ingest start with the shipped demo accounts (demo-<username> passwords)", func(c *Ingest, v string) { c.Demo = v == "true" || v == "1" }},
		{"log.level", "IOC_LOG_LEVEL", "debug, info, warn or error", str(func(c *Ingest) *string { return &c.Log.Level })},
	}
}

// Load reads the configuration named by -config (if any), then applies the
// environment (getenv) and the other flags in args. usage receives -h output.
func Load(args []string, getenv func(string) string, usage io.Writer) (*Ingest, error) {
	return load("ingest", "configs/ingest.yaml", args, getenv, usage, Default(), overrides(), (*Ingest).Validate)
}

func load[T any](name, example string, args []string, getenv func(string) string, usage io.Writer, c T, ovs []override[T], validate func(*T) error) (*T, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(usage)
	path := fs.String("config", "", "YAML configuration file (see "+example+")")
	set := map[string]*flagValue{}
	for _, o := range ovs {
		v := &flagValue{isBool: boolFlags[o.flag]}
		fs.Var(v, o.flag, o.help+" (env "+o.env+")")
		set[o.flag] = v
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *path != "" {
		b, err := os.ReadFile(*path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := Decode(b, &c); err != nil {
			return nil, fmt.Errorf("config %s: %w", *path, err)
		}
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	for _, o := range ovs {
		if v := getenv(o.env); v != "" {
			o.set(&c, v)
		}
		if explicit[o.flag] {
			o.set(&c, set[o.flag].v)
		}
	}
	if err := validate(&c); err != nil {
		return nil, err
	}
	return &c, nil
}

// boolFlags are the flags given alone (-demo) rather than with a value.
var boolFlags = map[string]bool{"demo": true}

// flagValue is an override flag's value as given.
type flagValue struct {
	v      string
	isBool bool
}

func (f *flagValue) String() string     { return f.v }
func (f *flagValue) Set(s string) error { f.v = s; return nil }
func (f *flagValue) IsBoolFlag() bool   { return f.isBool }

// Decode decodes YAML into c strictly, over the values c already holds.
func Decode[T any](b []byte, c *T) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// Validate checks the whole configuration and reports every problem.
func (c *Ingest) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.DataDir == "" {
		bad("data_dir is empty")
	}
	if c.Registry == "" {
		bad("registry is empty")
	}
	if !c.EmbeddedBroker() {
		m := c.MQTT
		if m.ClientID == "" {
			m.ClientID = "generated" // IngestClientID at start
		}
		if err := m.Validate(); err != nil {
			errs = append(errs, err)
		}
	} else {
		if c.Broker.Listen == "" {
			bad("embedded_broker.listen is empty")
		}
		if c.Broker.TLSListen != "" && (c.Broker.TLSCert == "" || c.Broker.TLSKey == "") {
			bad("embedded_broker.tls_listen needs tls_cert and tls_key")
		}
		if c.Credentials == "" && !c.Broker.AllowAnonymous {
			bad("credentials is empty: name the accounts file, or set embedded_broker.allow_anonymous for a demo")
		}
		if c.Broker.ConnectTimeout < 0 || c.Broker.MaxPendingPerAddress < 0 || c.Broker.ClientQueue < 0 {
			bad("embedded_broker.connect_timeout, max_pending_per_address and client_queue must not be negative (0 means the default)")
		}
	}
	if !c.EmbeddedStore() {
		if err := c.Influx.Validate(); err != nil {
			errs = append(errs, err)
		}
	} else if err := c.Embedded.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Notify.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Alerts.Forward && (c.EmbeddedBroker() || c.MQTT.SharedGroup == "") {
		bad("alerts.forward is for an ingest in a shared group (mqtt.shared_group) on an external broker, forwarding to the group's alert owner")
	}
	if c.Spool.Enabled && (c.Spool.MaxBytes < 1<<20 || c.Spool.DrainPoints < 1) {
		bad("spool: max_bytes must be at least 1 MiB (%d) and drain_points positive (%d)", c.Spool.MaxBytes, c.Spool.DrainPoints)
	}
	p := c.Pipeline
	if p.MaxInFlight < 1 || p.MaxInFlight > 65535 {
		bad("pipeline.max_in_flight %d: use 1..65535 (MQTT packet ids bound a session's in-flight messages)", p.MaxInFlight)
	}
	if p.BatchPoints < 1 {
		bad("pipeline.batch_points %d: must be positive", p.BatchPoints)
	}
	if p.FlushInterval <= 0 || p.FlushInterval > 10*time.Second {
		bad("pipeline.flush_interval %s: use (0, 10s]", p.FlushInterval)
	}
	if p.WriteWorkers < 1 || p.WriteWorkers > 64 {
		bad("pipeline.write_workers %d: use 1..64", p.WriteWorkers)
	}
	if p.RetryMin <= 0 || p.RetryMax < p.RetryMin {
		bad("pipeline.retry_min %s / retry_max %s: need 0 < retry_min <= retry_max", p.RetryMin, p.RetryMax)
	}
	l := c.Limits
	if l.MaxBytes < 64 || l.MaxPoints < 1 || l.MaxFields < 1 || l.MaxKeyBytes < 8 || l.MaxStringBytes < 1 {
		bad("limits: max_bytes >= 64, max_points, max_fields, max_string_bytes >= 1 and max_key_bytes >= 8 are required")
	}
	if l.MaxTags < 1 || l.MaxTagBytes < 1 {
		bad("limits.max_tags and limits.max_tag_value_bytes must be at least 1")
	}
	if p.MaxSeriesPerDeviceHour < 1 || p.MaxMeasurementsPerIntegrator < 1 {
		bad("pipeline.max_series_per_device_hour and pipeline.max_measurements_per_integrator must be at least 1")
	}
	if l.MaxPast <= 0 || l.MaxFuture <= 0 {
		bad("limits.max_past and limits.max_future must be positive")
	}
	checkLimit := func(name string, q quota.Limit) {
		if q.Rate < 0 || q.BytesRate < 0 || (q.Rate > 0 && q.Burst < 1) || (q.BytesRate > 0 && q.BytesBurst < l.MaxBytes) {
			bad("quotas.%s: rates must be >= 0, with burst >= 1 and bytes_burst >= limits.max_bytes (%d) when set", name, l.MaxBytes)
		}
	}
	checkLimit("integrator", c.Quotas.Integrator)
	checkLimit("device", c.Quotas.Device)
	for id, q := range c.Quotas.Overrides {
		checkLimit("integrators."+id, q)
	}
	errs = append(errs, c.Log.validate()...)
	if c.HTTP.Listen == "" {
		bad("http.listen is empty")
	}
	if h := c.HTTPIngest; h.Listen != "" {
		if c.Credentials == "" {
			bad("http_ingest needs credentials: it authenticates integrators with their accounts")
		}
		if (h.TLSCert == "") != (h.TLSKey == "") {
			bad("http_ingest: set both tls_cert and tls_key, or neither")
		}
		if h.Timeout <= 0 || h.MaxConcurrent < 1 {
			bad("http_ingest: timeout and max_concurrent must be positive")
		}
	}
	return errors.Join(errs...)
}

// clientIDFile holds ingest's generated MQTT client id in data_dir.
const clientIDFile = "mqtt-client-id"

// IngestClientID returns the client id kept in dataDir, generating
// "ioc-ingest-<random>" (0600) on the first start. A broker binds a
// client id to the account whose session holds it, and a host name is
// easy to guess: a random id cannot be taken before ingest connects.
func IngestClientID(dataDir string) (string, error) {
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
