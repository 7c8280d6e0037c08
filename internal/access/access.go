// Package access decides who may connect to the MQTT broker and which
// topics each may publish and subscribe to. One credentials file serves
// the embedded broker and, through MosquittoFiles, an external Mosquitto.
//
// Roles:
//
//	integrator  publishes ioc/v1/<integrator>/<any device>/<channel>
//	device      publishes ioc/v1/<integrator>/<its device>/<channel>
//	ingest      the ingest process on an external broker: reads device
//	            data and the server topics, writes integrators' _errors and
//	            the alert service's topics; never operators' commands
//	web         the IOC web server: reads the server topics and every
//	            integrator's _errors reports, writes operators' commands
//	            and its own sync markers; never device data
//
// Integrators and devices may subscribe to their integrator's _errors topic
// and to the filters their account grants, nothing else.
//
// Secrets are stored as Mosquitto's PBKDF2-SHA512 hashes ($7$), so the same
// file generates Mosquitto's password file; `ingest account-password-hash` makes them.
package access

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/registry"
	"gopkg.in/yaml.v3"
)

// Role is what an account is for.
type Role string

const (
	RoleIntegrator Role = "integrator"
	RoleDevice     Role = "device"
	RoleIngest     Role = "ingest"
	RoleWeb        Role = "web"
)

// What the server processes' accounts may use, from the contract's topic
// names (internal/contract).
var (
	// ingestPublishes: rejection reports, and the alert service's
	// retained state, events, command results and forwarded observations.
	ingestPublishes = []string{
		contract.AllErrorsFilter,
		contract.AlertsPrefix + "#",
		contract.DevicesPrefix + "#",
		contract.MaintenancePrefix + "#",
		contract.EventsTopic,
		contract.ResultsTopic,
		contract.ObservationsFilter,
		// the alert owner's lease and its last will (internal/lease), and
		// commands a standby hands on to the owner
		contract.AlertOwnerTopic,
		contract.HandOffTopic,
		// the marker the alert service sends itself when it lists the
		// broker's retained alerts after a connect (ghost sweep)
		contract.IngestSyncFilter,
	}
	ingestSubscribes = []string{contract.DeviceFilter, contract.ServerFilter}
	// webPublishes: operators' commands, the sync marker a web server
	// sends itself after subscribing (ioc/server/v1/sync/<client id>) and
	// logged-out sessions' retained revocations, and enrolled walls'
	// retained records.
	webPublishes = []string{contract.CommandsTopic, contract.SyncFilter, contract.RevokedFilter, contract.KiosksFilter}
	// webSubscribes: the server topics, and every integrator's _errors
	// reports, which the integrator's page shows (never device data).
	webSubscribes = []string{contract.ServerFilter, contract.AllErrorsFilter}
)

// Account is one set of MQTT credentials.
type Account struct {
	Username     string `yaml:"username"`
	PasswordHash string `yaml:"password_hash"`
	Role         Role   `yaml:"role"`
	Integrator   string `yaml:"integrator,omitempty"`
	Device       string `yaml:"device,omitempty"`
	// Subscribe lists extra filters the account may subscribe to, within
	// its integrator's topics.
	Subscribe []string `yaml:"subscribe,omitempty"`
	// Disabled keeps the account in the file but refuses it: it cannot
	// connect, and a reload closes its open connections.
	Disabled bool `yaml:"disabled,omitempty"`
}

// File is the YAML shape of the credentials file.
type File struct {
	Accounts []Account `yaml:"accounts"`
}

// Policy holds the accounts. It is immutable; reload builds a new one.
type Policy struct {
	accounts map[string]*Account
	order    []string

	mu       sync.Mutex
	verified map[[32]byte]string // sha256(username, password) -> username, to skip PBKDF2 on reconnect storms
	// failed holds sha256(username, password) of wrong passwords: the
	// policy never changes, so a wrong password stays wrong, and a device
	// retrying a stale password costs no PBKDF2 after the first time.
	failed map[[32]byte]struct{}
}

// Load reads a credentials file and checks it against the registry.
func Load(path string, reg *registry.Registry) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	p, err := Parse(b, reg)
	if err != nil {
		return nil, fmt.Errorf("credentials %s: %w", path, err)
	}
	return p, nil
}

// Parse decodes a credentials file's text strictly (unknown keys are
// errors) and checks it against the registry; errors name their line.
func Parse(b []byte, reg *registry.Registry) (*Policy, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	return build(f, reg, accountLines(b))
}

// accountLines returns the line of each entry under accounts: in the YAML
// text b (nil if the text has no such list), so errors name the line.
func accountLines(b []byte) []int {
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "accounts" && m.Content[i+1].Kind == yaml.SequenceNode {
			var lines []int
			for _, a := range m.Content[i+1].Content {
				lines = append(lines, a.Line)
			}
			return lines
		}
	}
	return nil
}

// ValidName reports whether s may be a username or client id: non-empty,
// at most 128 bytes, no MQTT wildcard or level separator, no control or
// space characters.
func ValidName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '+' || c == '#' || c == '/' || c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// New validates f and builds a Policy, reporting every problem at once.
func New(f File, reg *registry.Registry) (*Policy, error) {
	return build(f, reg, nil)
}

// build is New with each account's line in the file (lines[i] for
// f.Accounts[i]; nil when not read from a file): errors start with it.
func build(f File, reg *registry.Registry, lines []int) (*Policy, error) {
	p := &Policy{accounts: map[string]*Account{}, verified: map[[32]byte]string{}, failed: map[[32]byte]struct{}{}}
	var errs []error
	at := ""
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(at+format, args...)) }
	for i := range f.Accounts {
		a := f.Accounts[i]
		if i < len(lines) {
			at = fmt.Sprintf("line %d: ", lines[i])
		}
		who := fmt.Sprintf("account %q", a.Username)
		if !ValidName(a.Username) {
			bad("account #%d: username %q must be 1-128 bytes without + # / or spaces", i+1, a.Username)
			continue
		}
		if p.accounts[a.Username] != nil {
			bad("%s listed twice", who)
			continue
		}
		if _, err := parseHash(a.PasswordHash); err != nil {
			bad("%s: password_hash: %v (make one with `ingest account-password-hash`)", who, err)
		}
		switch a.Role {
		case RoleIngest, RoleWeb:
			if a.Integrator != "" || a.Device != "" {
				bad("%s: an %s account has no integrator or device", who, a.Role)
			}
			if len(a.Subscribe) > 0 {
				bad("%s: an %s account has fixed topics; remove subscribe", who, a.Role)
			}
		case "server":
			bad("%s: role \"server\" was split in two: give ingest's account role ingest and the IOC web server's account role web", who)
		case RoleIntegrator, RoleDevice:
			if _, ok := reg.Integrator(a.Integrator); !ok {
				bad("%s: integrator %q is not in the device registry", who, a.Integrator)
			}
			if a.Role == RoleDevice {
				d, ok := reg.Lookup(a.Device) // a retired device's account stays in the file
				if !ok {
					bad("%s: device %q is not in the device registry", who, a.Device)
				} else if d.Integrator != a.Integrator {
					bad("%s: device %q belongs to integrator %q", who, a.Device, d.Integrator)
				}
			} else if a.Device != "" {
				bad("%s: an integrator account names no device", who)
			}
			for _, s := range a.Subscribe {
				if !validFilter(s) || !within(s, contract.IntegratorFilter(a.Integrator)) {
					bad("%s: subscribe %q must be a filter within ioc/v1/%s/#", who, s, a.Integrator)
				}
			}
		default:
			bad("%s: role %q is not one of integrator, device, ingest, web", who, a.Role)
		}
		p.accounts[a.Username] = &a
		p.order = append(p.order, a.Username)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// Authenticate returns the account for username if password is right.
func (p *Policy) Authenticate(username string, password []byte) (*Account, bool) {
	a, ok := p.accounts[username]
	if !ok || a.Disabled {
		return nil, false
	}
	key := sha256.Sum256(append(append([]byte(username), 0), password...))
	p.mu.Lock()
	cached := p.verified[key] == username
	_, wrong := p.failed[key]
	p.mu.Unlock()
	if cached {
		return a, true
	}
	if wrong {
		return nil, false
	}
	if !Verify(a.PasswordHash, password) {
		p.mu.Lock()
		if len(p.failed) > 100000 {
			clear(p.failed)
		}
		p.failed[key] = struct{}{}
		p.mu.Unlock()
		return nil, false
	}
	p.mu.Lock()
	if len(p.verified) > 100000 {
		clear(p.verified)
	}
	p.verified[key] = username
	p.mu.Unlock()
	return a, true
}

// Account returns the account named username.
func (p *Policy) Account(username string) (*Account, bool) {
	a, ok := p.accounts[username]
	return a, ok
}

func (a *Account) publishFilters() []string {
	switch a.Role {
	case RoleIngest:
		return ingestPublishes
	case RoleWeb:
		return webPublishes
	case RoleDevice:
		return []string{contract.DeviceChannelsFilter(a.Integrator, a.Device)}
	}
	return []string{contract.IntegratorDevicesFilter(a.Integrator)}
}

func (a *Account) subscribeFilters() []string {
	switch a.Role {
	case RoleIngest:
		return ingestSubscribes
	case RoleWeb:
		return webSubscribes
	}
	return append([]string{contract.ErrorsTopic(a.Integrator)}, a.Subscribe...)
}

// CanPublish reports whether a may publish to topic.
func (a *Account) CanPublish(topic string) bool {
	if !validTopic(topic) {
		return false
	}
	for _, f := range a.publishFilters() {
		if within(topic, f) {
			return true
		}
	}
	return false
}

// OwnsMalformed reports whether topic, one a may not publish, is still
// under the account's own device-data prefix (ioc/v1/<integrator>/ for an
// integrator, ioc/v1/<integrator>/<device>/ for a device), so that it can
// only be a malformed device topic of its own: the broker lets it through
// to ingest, which refuses it as bad_topic on the integrator's _errors
// topic, instead of dropping the client as for a foreign topic. The
// _errors topic itself stays refused.
func (a *Account) OwnsMalformed(topic string) bool {
	if !validTopic(topic) || !a.SendsDeviceData() {
		return false
	}
	prefix := contract.DevicePrefix + a.Integrator + "/"
	if a.Role == RoleDevice {
		prefix += a.Device + "/"
	}
	return strings.HasPrefix(topic, prefix) && topic != contract.ErrorsTopic(a.Integrator)
}

// SendsDeviceData reports whether a is a device's or integrator's account:
// the only ones whose data ingest takes.
func (a *Account) SendsDeviceData() bool {
	return a.Role == RoleIntegrator || a.Role == RoleDevice
}

// CanSubscribe reports whether a may subscribe to filter: every topic the
// filter can match must be one the account may read.
func (a *Account) CanSubscribe(filter string) bool {
	if !validFilter(filter) {
		return false
	}
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		_, f, found := strings.Cut(rest, "/")
		if !found {
			return false
		}
		filter = f
	}
	for _, allowed := range a.subscribeFilters() {
		if within(filter, allowed) {
			return true
		}
	}
	return false
}

func validTopic(t string) bool { return t != "" && !strings.ContainsAny(t, "+#") }

func validFilter(f string) bool {
	if f == "" {
		return false
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return false
		}
		if strings.Contains(l, "+") && l != "+" {
			return false
		}
	}
	return true
}

// within reports whether every topic that filter matches is also matched by
// allowed (both valid filters; a topic is a filter without wildcards).
func within(filter, allowed string) bool {
	f, a := strings.Split(filter, "/"), strings.Split(allowed, "/")
	for i, al := range a {
		if al == "#" {
			return true
		}
		if i >= len(f) {
			return false
		}
		switch fl := f[i]; {
		case fl == "#":
			return false // filter reaches deeper than allowed can
		case al == "+":
			continue // any single level, '+' included
		case fl == "+" || fl != al:
			return false
		}
	}
	return len(f) == len(a)
}

// DefaultIterations is the PBKDF2 work factor for new hashes: about 5 ms
// per check. Mosquitto's own tool uses 101. Secrets for devices and
// integrators should be random (account-password-hash -generate), for which this
// is ample; a verified secret is cached, so reconnects cost nothing, and a
// province of 10,000 devices each with its own account pays under a minute
// of CPU once.
const DefaultIterations = 10000

type hashParts struct {
	iter       int
	salt, hash []byte
}

// parseHash reads $7$<iterations>$<salt base64>$<hash base64>.
func parseHash(s string) (hashParts, error) {
	f := strings.Split(s, "$")
	if len(f) != 5 || f[0] != "" || f[1] != "7" {
		return hashParts{}, errors.New("want Mosquitto's $7$<iterations>$<salt>$<hash> (PBKDF2-SHA512)")
	}
	iter, err := strconv.Atoi(f[2])
	if err != nil || iter < 1 {
		return hashParts{}, errors.New("bad iteration count")
	}
	salt, err1 := base64.StdEncoding.DecodeString(f[3])
	hash, err2 := base64.StdEncoding.DecodeString(f[4])
	if err1 != nil || err2 != nil || len(salt) == 0 || len(hash) != sha512.Size {
		return hashParts{}, errors.New("bad base64 salt or hash")
	}
	return hashParts{iter, salt, hash}, nil
}

// Hash makes a Mosquitto-compatible $7$ hash of password.
func Hash(password string, iterations int) (string, error) {
	salt := make([]byte, 12)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	h, err := pbkdf2.Key(sha512.New, password, salt, iterations, sha512.Size)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("$7$%d$%s$%s", iterations, base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(h)), nil
}

// Verify reports whether password matches hash.
func Verify(hash string, password []byte) bool {
	p, err := parseHash(hash)
	if err != nil {
		return false
	}
	h, err := pbkdf2.Key(sha512.New, string(password), p.salt, p.iter, sha512.Size)
	return err == nil && hmac.Equal(h, p.hash)
}

// MosquittoFiles renders Mosquitto's password_file and acl_file for the
// accounts: the same rules the embedded broker enforces.
func (p *Policy) MosquittoFiles() (passwd, acl []byte) {
	var pw, ac bytes.Buffer
	ac.WriteString("# Generated by `ingest mosquitto-files` from the credentials file; do not edit.\n")
	names := append([]string(nil), p.order...)
	sort.Strings(names)
	for _, n := range names {
		a := p.accounts[n]
		if a.Disabled {
			continue
		}
		fmt.Fprintf(&pw, "%s:%s\n", a.Username, a.PasswordHash)
		fmt.Fprintf(&ac, "\nuser %s\n", a.Username)
		for _, f := range a.publishFilters() {
			fmt.Fprintf(&ac, "topic write %s\n", f)
		}
		for _, f := range a.subscribeFilters() {
			fmt.Fprintf(&ac, "topic read %s\n", f)
		}
	}
	return pw.Bytes(), ac.Bytes()
}
