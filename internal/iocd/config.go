package iocd

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/ioc-vn/ioc/internal/auth"
	"github.com/ioc-vn/ioc/internal/config"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/mqttsub"
	"github.com/ioc-vn/ioc/internal/store/influx"
	"github.com/ioc-vn/ioc/internal/stream"
)

// Config is the configuration of cmd/ioc, the operators' and technicians'
// server. It keeps no state of its own that matters: the live picture comes
// from the broker, history from the store.
type Config struct {
	// Listen is the HTTP address of the pages, API and websocket.
	Listen  string `yaml:"listen"`
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// Registry gives district names and the province; Outline is the
	// province outline (GeoJSON) under the wall's map; DistrictBoundaries
	// the districts' polygons (a GeoJSON FeatureCollection whose features'
	// properties.district is the registry's district id), drawn and named
	// on the map.
	Registry           string `yaml:"registry"`
	Outline            string `yaml:"outline"`
	DistrictBoundaries string `yaml:"district_boundaries"`
	// Rules are the alert rules (the alert service's file): their alarm
	// levels are drawn on the charts. Read at start.
	Rules string `yaml:"rules"`
	// AuditLog is this server's JSON-lines audit file (kiosks.json, the
	// enrolled walls, goes beside it unless Kiosks says otherwise).
	AuditLog string `yaml:"audit_log"`
	// Credentials is ingest's accounts file. Set, it turns on the admin
	// provisioning routes, which edit it and the registry file (both must
	// be the files ingest reads: same host or shared storage).
	Credentials string `yaml:"credentials"`
	// IngestReloadURL, if set, is POSTed after each provisioning change so
	// that ingest reloads the files (ingest's loopback
	// http://127.0.0.1:9100/-/reload). The all-in-one reloads ingest
	// directly.
	IngestReloadURL string `yaml:"ingest_reload_url"`
	// Kiosks is the enrolled walls' file (empty: kiosks.json beside the
	// audit log). Servers sharing a broker share enrolments and
	// revocations through it; each keeps its own copy here.
	Kiosks string `yaml:"kiosks"`
	// Photos is the directory of the technicians' photos of their fixes
	// (empty: photos/ beside the audit log). Servers behind one address
	// need it on shared storage: a photo is kept by the server that took
	// it.
	Photos string `yaml:"photos"`
	// PhotosKeep is how long a photo of a fix is kept (0: for ever). The
	// default keeps 13 months, so a year's maintenance reports can still
	// show them.
	PhotosKeep time.Duration `yaml:"photos_keep"`
	// MQTT is the broker the alert service publishes to, with a server
	// account.
	MQTT mqttsub.Config `yaml:"mqtt"`
	// Influx is read when its url is set; otherwise the embedded store
	// file ingest writes (EmbeddedStore), opened alongside it.
	Influx        influx.Config `yaml:"influx"`
	EmbeddedStore string        `yaml:"embedded_store"`
	Auth          auth.Config   `yaml:"auth"`
	// AllowedOrigins may use the API and websocket besides the server's
	// own origin (e.g. https://ioc.example.vn when behind a proxy).
	AllowedOrigins []string `yaml:"allowed_origins"`
	// TrustedProxies are the reverse proxies (CIDRs or addresses) whose
	// X-Forwarded-For is believed for the client's address (login limits,
	// audit log). Empty: the header is ignored.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// MetricsToken lets a scraper read /metrics as a bearer token; without
	// it only an admin's session can. /metrics is never public.
	MetricsToken string       `yaml:"metrics_token"`
	Stream       StreamConfig `yaml:"stream"`
	// HistoryMaxPoints bounds the samples per field of a history call.
	HistoryMaxPoints int `yaml:"history_max_points"`
	// CommandTimeout bounds the wait for the alert service's answer.
	CommandTimeout time.Duration `yaml:"command_timeout"`
	Log            config.Log    `yaml:"log"`
	// Demo lets cmd/ioc start with the shipped demo secrets (users whose
	// password is demo-<username>, the demo MQTT password, no session
	// secret). Without it cmd/ioc refuses them.
	Demo bool `yaml:"demo"`
}

// Proxies parses TrustedProxies; a bare address is a one-address prefix.
func (c *Config) Proxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range c.TrustedProxies {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("trusted_proxies: %q is neither a CIDR (10.0.0.0/8) nor an address", s)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// PhotosDir is where the photos of fixes are kept.
func (c *Config) PhotosDir() string {
	if c.Photos != "" {
		return c.Photos
	}
	return filepath.Join(filepath.Dir(c.AuditLog), "photos")
}

// KiosksFile is the enrolled walls' file: Kiosks, or kiosks.json beside
// the audit log.
func (c *Config) KiosksFile() string {
	if c.Kiosks != "" {
		return c.Kiosks
	}
	return filepath.Join(filepath.Dir(c.AuditLog), "kiosks.json")
}

// StreamConfig bounds the websocket clients.
type StreamConfig struct {
	QueueLen   int           `yaml:"queue_len"`
	WriteWait  time.Duration `yaml:"write_wait"`
	PingPeriod time.Duration `yaml:"ping_period"`
	PongWait   time.Duration `yaml:"pong_wait"`
	MaxClients int           `yaml:"max_clients"`
	// Resume is how many deltas are kept for clients that reconnect.
	Resume int `yaml:"resume"`
}

// StreamOptions is the stream's options with the allowed origins.
func (c *Config) StreamOptions() stream.Options {
	o := stream.DefaultOptions
	o.QueueLen, o.WriteWait, o.PingPeriod, o.PongWait, o.MaxClients = c.Stream.QueueLen, c.Stream.WriteWait, c.Stream.PingPeriod, c.Stream.PongWait, c.Stream.MaxClients
	o.AllowedOrigins = c.AllowedOrigins
	return o
}

// DefaultConfig runs beside a default ingest on the same machine.
func DefaultConfig() Config {
	return Config{
		Listen:   ":8080",
		Registry: "configs/devices.yaml",
		Outline:  "configs/province-outline.geojson",
		AuditLog: filepath.Join("data", "audit.log"),
		// The wall's district polygons and the charts' alarm levels.
		DistrictBoundaries: "configs/province-districts.geojson",
		Rules:              "configs/rules.yaml",
		MQTT:               mqttsub.Config{Broker: "tcp://127.0.0.1:1883", ClientID: "ioc-web-" + strings.ToLower(rand.Text()), Username: "ioc-server", KeepAlive: 30 * time.Second, Topics: contract.PictureFilters()},
		Influx:             influx.Config{Timeout: 30 * time.Second},
		EmbeddedStore:      filepath.Join("data", "ioc.db"),
		Auth:               auth.Config{SessionTTL: 12 * time.Hour, LoginRate: 10, LoginBurst: 5, LoginMaxDelay: 15 * time.Minute, LoginAddressBurst: 30},
		Stream: StreamConfig{QueueLen: stream.DefaultOptions.QueueLen, WriteWait: stream.DefaultOptions.WriteWait,
			PingPeriod: stream.DefaultOptions.PingPeriod, PongWait: stream.DefaultOptions.PongWait,
			MaxClients: stream.DefaultOptions.MaxClients, Resume: 10000},
		HistoryMaxPoints: 1000,
		CommandTimeout:   5 * time.Second,
		PhotosKeep:       396 * 24 * time.Hour,
		Log:              config.DefaultLog,
	}
}

func overrides() []config.Override[Config] {
	str, set := config.Text[Config], config.Setting[Config]
	return []config.Override[Config]{
		str("listen", "IOC_LISTEN", "HTTP address of the pages, API and websocket", func(c *Config) *string { return &c.Listen }),
		str("registry", "IOC_REGISTRY", "device registry YAML file", func(c *Config) *string { return &c.Registry }),
		str("outline", "IOC_OUTLINE", "province outline (GeoJSON) under the wall's map", func(c *Config) *string { return &c.Outline }),
		str("rules", "IOC_RULES", "alert rules YAML, whose alarm levels the charts draw", func(c *Config) *string { return &c.Rules }),
		str("district-boundaries", "IOC_DISTRICT_BOUNDARIES", "district polygons (GeoJSON, properties.district = district id) on the wall's map", func(c *Config) *string { return &c.DistrictBoundaries }),
		str("mqtt.broker", "IOC_MQTT_BROKER", "broker URL (tcp://host:1883)", func(c *Config) *string { return &c.MQTT.Broker }),
		str("mqtt.client-id", "IOC_MQTT_CLIENT_ID", "MQTT client id, unique per ioc server (default: ioc-web-<random>, new each start)", func(c *Config) *string { return &c.MQTT.ClientID }),
		str("mqtt.username", "IOC_MQTT_USERNAME", "MQTT username (a server account)", func(c *Config) *string { return &c.MQTT.Username }),
		str("mqtt.password", "IOC_MQTT_PASSWORD", "MQTT password", func(c *Config) *string { return &c.MQTT.Password }),
		str("influx.url", "IOC_INFLUX_URL", "InfluxDB URL; empty reads the embedded store", func(c *Config) *string { return &c.Influx.URL }),
		str("influx.org", "IOC_INFLUX_ORG", "InfluxDB 2.x organisation", func(c *Config) *string { return &c.Influx.Org }),
		str("influx.bucket", "IOC_INFLUX_BUCKET", "InfluxDB 2.x bucket", func(c *Config) *string { return &c.Influx.Bucket }),
		str("influx.token", "IOC_INFLUX_TOKEN", "InfluxDB 2.x token", func(c *Config) *string { return &c.Influx.Token }),
		str("influx.database", "IOC_INFLUX_DATABASE", "InfluxDB 1.8 database", func(c *Config) *string { return &c.Influx.Database }),
		str("influx.username", "IOC_INFLUX_USERNAME", "InfluxDB 1.8 username (a read-only user)", func(c *Config) *string { return &c.Influx.Username }),
		str("influx.password", "IOC_INFLUX_PASSWORD", "InfluxDB 1.8 password", func(c *Config) *string { return &c.Influx.Password }),
		str("embedded-store", "IOC_EMBEDDED_STORE", "ingest's embedded store file, when no InfluxDB", func(c *Config) *string { return &c.EmbeddedStore }),
		str("audit-log", "IOC_AUDIT_LOG", "audit log file", func(c *Config) *string { return &c.AuditLog }),
		str("credentials", "IOC_CREDENTIALS", "ingest's credentials file: turns on provisioning (admin page /admin/devices/)", func(c *Config) *string { return &c.Credentials }),
		str("ingest-reload-url", "IOC_INGEST_RELOAD_URL", "ingest's reload URL, POSTed after provisioning changes", func(c *Config) *string { return &c.IngestReloadURL }),
		str("kiosks", "IOC_KIOSKS", "enrolled walls' file (default: kiosks.json beside the audit log)", func(c *Config) *string { return &c.Kiosks }),
		str("session-secret", "IOC_SESSION_SECRET", "secret signing session cookies (32+ characters; the same on every ioc server)", func(c *Config) *string { return &c.Auth.SessionSecret }),
		set("allowed-origins", "IOC_ALLOWED_ORIGINS", "comma-separated origins allowed besides the server's own", func(c *Config, v string) { c.AllowedOrigins = strings.Split(v, ",") }),
		set("trusted-proxies", "IOC_TRUSTED_PROXIES", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed", func(c *Config, v string) { c.TrustedProxies = strings.Split(v, ",") }),
		str("metrics-token", "IOC_METRICS_TOKEN", "bearer token a scraper sends for /metrics (admins' sessions may read it too)", func(c *Config) *string { return &c.MetricsToken }),
		config.Switch("demo", "IOC_DEMO", "true lets ioc start with the shipped demo users, MQTT password and no session secret", func(c *Config, on bool) { c.Demo = on }),
		str("log.level", "IOC_LOG_LEVEL", "debug, info, warn or error", func(c *Config) *string { return &c.Log.Level }),
	}
}

// LoadConfig reads the IOC server's configuration: the file named by
// -config (if any), then the environment (getenv), then the other flags in
// args. usage receives -h output.
func LoadConfig(args []string, getenv func(string) string, usage io.Writer) (*Config, error) {
	return config.Loader[Config]{Name: "ioc", Example: "configs/ioc.yaml", Defaults: DefaultConfig(),
		Overrides: overrides(), Validate: (*Config).Validate}.Load(args, getenv, usage)
}

// Validate checks the whole configuration and reports every problem.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Listen == "" {
		bad("listen is empty")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("set both tls_cert and tls_key, or neither")
	}
	if c.Registry == "" {
		bad("registry is empty")
	}
	if c.AuditLog == "" {
		bad("audit_log is empty")
	}
	if err := c.MQTT.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Influx.URL != "" {
		if err := c.Influx.Validate(); err != nil {
			errs = append(errs, err)
		}
	} else if c.EmbeddedStore == "" {
		bad("set influx.url or embedded_store")
	}
	if len(c.Auth.Users) == 0 {
		bad("auth.users is empty: nobody could log in")
	}
	if _, err := c.Proxies(); err != nil {
		errs = append(errs, err)
	}
	if c.Auth.LoginRate <= 0 || c.Auth.LoginBurst < 1 || c.Auth.LoginMaxDelay <= 0 || c.Auth.LoginAddressBurst < c.Auth.LoginBurst {
		bad("auth: login_rate, login_burst and login_max_delay must be positive, login_address_burst at least login_burst")
	}
	if s := c.Auth.SessionSecret; s != "" && len(s) < 32 {
		bad("auth.session_secret: use at least 32 characters")
	}
	st := c.Stream
	if st.QueueLen < 1 || st.WriteWait <= 0 || st.PingPeriod <= 0 || st.PongWait <= st.PingPeriod || st.MaxClients < 1 || st.Resume < 1 {
		bad("stream: queue_len, write_wait, ping_period, max_clients and resume must be positive, pong_wait > ping_period")
	}
	if c.HistoryMaxPoints < 10 || c.HistoryMaxPoints > 100000 {
		bad("history_max_points %d: use 10..100000", c.HistoryMaxPoints)
	}
	if c.CommandTimeout <= 0 {
		bad("command_timeout must be positive")
	}
	errs = append(errs, c.Log.Validate()...)
	return errors.Join(errs...)
}

// DemoSecrets names what in the ioc configuration is a shipped demo
// secret or missing: users whose password is demo-<username>, the demo
// MQTT password, an empty session secret. cmd/ioc refuses to start with
// any of them unless Demo is set.
func (c *Config) DemoSecrets() []string {
	var out []string
	for _, u := range c.Auth.Users {
		if config.ShippedDemoHash(u.PasswordHash) || auth.CheckPassword(u.PasswordHash, "demo-"+u.Username) {
			out = append(out, "user "+u.Username+" (password demo-"+u.Username+")")
		}
	}
	if c.MQTT.Password != "" && c.MQTT.Password == "demo-"+c.MQTT.Username {
		out = append(out, "mqtt.password of "+c.MQTT.Username+" (demo-"+c.MQTT.Username+")")
	}
	if c.Auth.SessionSecret == "" {
		out = append(out, "auth.session_secret (empty)")
	}
	return out
}
