package production

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/iocd"
	"github.com/ioc-vn/ioc/internal/testenv"
)

const repo = "../.."

// TestProductionKitFollowedLiterally is the README's production section done
// by a sysadmin on a fresh Debian machine: binaries built, the shipped files
// installed under /etc/ioc and /etc/mosquitto (here under a temporary root
// standing in for /), new secrets for every account and user,
// `ingest mosquitto-files`, Mosquitto with the shipped mosquitto.conf run as
// its own user, InfluxDB 1.8 with auth and Flux on set up by
// configs/influxdb/setup-1.8.sh, and ingest and ioc started from / with the
// production configs as shipped. The only adaptations are the documented
// IOC_* variables: secrets as the README says, and the paths under /etc/ioc
// and /var/lib/ioc and the listen addresses moved to the temporary root and
// loopback ports. Then an integrator publishes; the alert reaches the API,
// the wall loads for a logged-in operator, history answers from InfluxDB
// through the read-only user, and HTTP ingest answers 200 with the later
// refusal on _errors.
func TestProductionKitFollowedLiterally(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries and starts Mosquitto, InfluxDB, ingest and ioc")
	}
	mqUser, err := user.Lookup("mosquitto")
	if os.Geteuid() != 0 || err != nil {
		t.Skip("needs root and the mosquitto user (Debian's mosquitto package), as scripts/test and CI have")
	}
	for _, tool := range []string{"curl", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	uid, _ := strconv.Atoi(mqUser.Uid)
	gid, _ := strconv.Atoi(mqUser.Gid)

	// Build with `go build -o /usr/local/bin/ ./cmd/ingest ./cmd/ioc`.
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/ingest", "./cmd/ioc")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ingestBin, iocBin := filepath.Join(bin, "ingest"), filepath.Join(bin, "ioc")

	// The root standing in for /: walkable by user mosquitto, as / is.
	root, err := os.MkdirTemp("", "ioc-production-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	at := func(p string) string { return filepath.Join(root, p) }
	for _, d := range []string{"", "etc/ioc/tls", "etc/mosquitto", "var/lib/mosquitto", "var/lib/ioc"} {
		if err := os.MkdirAll(at(d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(at(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Debian's mosquitto package owns its persistence directory.
	if err := os.Chown(at("var/lib/mosquitto"), uid, gid); err != nil {
		t.Fatal(err)
	}

	// Install the shipped files where the README and the units say.
	for src, dst := range map[string]string{
		"configs/devices.yaml":               "etc/ioc/devices.yaml",
		"configs/rules.yaml":                 "etc/ioc/rules.yaml",
		"configs/province-outline.geojson":   "etc/ioc/province-outline.geojson",
		"configs/province-districts.geojson": "etc/ioc/province-districts.geojson",
		"configs/ingest-production.yaml":     "etc/ioc/ingest.yaml",
		"configs/ioc-production.yaml":        "etc/ioc/ioc.yaml",
		"configs/mosquitto/mosquitto.conf":   "etc/mosquitto/mosquitto.conf",
		"configs/credentials.yaml":           "etc/ioc/credentials.yaml",
		"configs/influxdb/setup-1.8.sh":      "setup-1.8.sh",
		"configs/systemd/ioc-ingest.service": "ioc-ingest.service",
		"configs/systemd/ioc-web.service":    "ioc-web.service",
	} {
		copyFile(t, filepath.Join(repo, src), at(dst))
	}
	// The units run what we run: the installed configs and env files.
	for unit, want := range map[string][]string{
		"ioc-ingest.service": {"ExecStart=/usr/local/bin/ingest -config /etc/ioc/ingest.yaml", "EnvironmentFile=/etc/ioc/ingest.env"},
		"ioc-web.service":    {"ExecStart=/usr/local/bin/ioc -config /etc/ioc/ioc.yaml", "EnvironmentFile=/etc/ioc/ioc.env"},
	} {
		b, _ := os.ReadFile(at(unit))
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				t.Errorf("configs/systemd/%s has no %q", unit, w)
			}
		}
	}

	// New secrets: `ingest account-password-hash -generate` for every account.
	secrets := newAccountSecrets(t, ingestBin, at("etc/ioc/credentials.yaml"))
	for _, acct := range []string{"ioc-ingest", "ioc-server", "vms-tn", "envsense"} {
		if secrets[acct] == "" {
			t.Fatalf("configs/credentials.yaml has no account %s", acct)
		}
	}
	// An operator with `ioc user-password-hash`, in place of the example hash.
	const opPassword = "mật khẩu trực ban ca 1"
	hash := run(t, strings.NewReader(opPassword+"\n"), nil, iocBin, "user-password-hash")
	replaceIn(t, at("etc/ioc/ioc.yaml"), regexp.MustCompile(`"\$2a\$12\$REPLACE[^"]*"`), `"`+strings.TrimSpace(hash)+`"`)

	// Mosquitto's files, from / as the README says.
	run(t, nil, nil, ingestBin, "mosquitto-files", "-credentials", at("etc/ioc/credentials.yaml"),
		"-registry", at("etc/ioc/devices.yaml"), "-out", at("etc/mosquitto"))

	// The shipped mosquitto.conf, moved to the root and a loopback port.
	mqPort := testenv.FreePort(t)
	mqAddr := "127.0.0.1:" + strconv.Itoa(mqPort)
	conf := at("etc/mosquitto/mosquitto.conf")
	replaceIn(t, conf, regexp.MustCompile(`(?m)^listener 1883$`), fmt.Sprintf("listener %d 127.0.0.1", mqPort))
	replaceIn(t, conf, regexp.MustCompile(`/etc/mosquitto/`), at("etc/mosquitto")+"/")
	replaceIn(t, conf, regexp.MustCompile(`/var/lib/mosquitto/`), at("var/lib/mosquitto")+"/")
	replaceIn(t, conf, regexp.MustCompile(`(?m)^log_dest syslog$`), "log_dest stderr")
	// Started as root with no user line, Mosquitto runs as user mosquitto.
	mq := testenv.StartMosquittoConfig(t, conf, mqAddr)

	// InfluxDB 1.8 with auth and Flux on, set up by the shipped script.
	in := testenv.StartInfluxWith(t, testenv.InfluxOptions{Auth: true})
	influxEnv := map[string]string{
		"INFLUX_HOST": in.URL, "INFLUX_ADMIN_PASSWORD": "admin-" + rand.Text(),
		"IOC_INGEST_PASSWORD": "ingest-" + rand.Text(), "IOC_READER_PASSWORD": "reader-" + rand.Text(),
	}
	run(t, nil, influxEnv, "bash", at("setup-1.8.sh"))

	// The env files of the units, as the config comments say.
	ingestEnv := map[string]string{
		"IOC_MQTT_PASSWORD":   secrets["ioc-ingest"],
		"IOC_INFLUX_DATABASE": "ioc", "IOC_INFLUX_USERNAME": "ioc-ingest", "IOC_INFLUX_PASSWORD": influxEnv["IOC_INGEST_PASSWORD"],
	}
	iocEnv := map[string]string{
		"IOC_MQTT_PASSWORD": secrets["ioc-server"], "IOC_SESSION_SECRET": rand.Text() + rand.Text(),
		"IOC_INFLUX_DATABASE": "ioc", "IOC_INFLUX_USERNAME": "ioc-reader", "IOC_INFLUX_PASSWORD": influxEnv["IOC_READER_PASSWORD"],
	}
	// Every path the configs name must be absolute under /etc/ioc or
	// /var/lib/ioc (systemd starts them from /); each is moved to the root
	// by its documented variable, and nothing else is.
	ingestCfg, err := ingestd.LoadConfig([]string{"-config", at("etc/ioc/ingest.yaml")}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatalf("the shipped ingest-production.yaml: %v", err)
	}
	relocate(t, root, ingestEnv, map[string]string{
		"IOC_DATA_DIR": ingestCfg.DataDir, "IOC_REGISTRY": ingestCfg.Registry, "IOC_CREDENTIALS": ingestCfg.Credentials,
		"IOC_ALERT_RULES": ingestCfg.Alerts.Rules, "IOC_HTTP_INGEST_TLS_CERT": ingestCfg.HTTPIngest.TLSCert, "IOC_HTTP_INGEST_TLS_KEY": ingestCfg.HTTPIngest.TLSKey,
	})
	iocCfg, err := iocd.LoadConfig([]string{"-config", at("etc/ioc/ioc.yaml")}, func(k string) string { return iocEnv[k] }, io.Discard)
	if err != nil {
		t.Fatalf("the shipped ioc-production.yaml with its secrets: %v", err)
	}
	relocate(t, root, iocEnv, map[string]string{"IOC_REGISTRY": iocCfg.Registry, "IOC_OUTLINE": iocCfg.Outline, "IOC_DISTRICT_BOUNDARIES": iocCfg.DistrictBoundaries, "IOC_RULES": iocCfg.Rules, "IOC_AUDIT_LOG": iocCfg.AuditLog})
	writeCert(t, ingestEnv["IOC_HTTP_INGEST_TLS_CERT"], ingestEnv["IOC_HTTP_INGEST_TLS_KEY"])

	// Loopback ports instead of the shipped ones.
	metrics, httpIngest, web := loopback(t), loopback(t), loopback(t)
	for k, v := range map[string]string{"IOC_MQTT_BROKER": mq.URL, "IOC_INFLUX_URL": in.URL, "IOC_HTTP_LISTEN": metrics, "IOC_HTTP_INGEST_LISTEN": httpIngest} {
		ingestEnv[k] = v
	}
	for k, v := range map[string]string{"IOC_MQTT_BROKER": mq.URL, "IOC_INFLUX_URL": in.URL, "IOC_LISTEN": web} {
		iocEnv[k] = v
	}

	startFromRoot(t, "ingest", ingestBin, ingestEnv, "http://"+metrics+"/readyz", "-config", at("etc/ioc/ingest.yaml"))
	base := "http://" + web
	startFromRoot(t, "ioc", iocBin, iocEnv, base+"/readyz", "-config", at("etc/ioc/ioc.yaml"))
	// Nothing to fix in what was shipped: no deprecated option (Mosquitto
	// 2.0 says "Note: It is recommended to replace ..."), no warning about
	// the generated files' permissions.
	if log := mq.Log(); strings.Contains(log, "Note:") || strings.Contains(log, "Warning") || strings.Contains(log, "Error") {
		t.Errorf("Mosquitto complained about the shipped configuration or files:\n%s", log)
	}

	// An integrator publishes with its new secret.
	vms := connect(t, mq.URL, "vms-tn", secrets["vms-tn"])
	const cam = "cam-bvtw-01"
	publish(t, vms, "ioc/v1/vms-tn/"+cam+"/status", `{"state": "online", "recording": true, "signal": true, "fps": 25, "bitrate_kbps": 2048}`)
	publish(t, vms, "ioc/v1/vms-tn/"+cam+"/event", `{"type": "tamper", "zone": "hành lang tầng 2"}`)

	op := loginOperator(t, base, "truc-ban-1", opPassword)
	testenv.Eventually(t, 20*time.Second, func() error {
		var a struct{ Alerts []struct{ ID string } }
		if err := op.getJSON("/api/v1/alerts", &a); err != nil {
			return err
		}
		for _, x := range a.Alerts {
			if x.ID == "camera-tamper/"+cam {
				return nil
			}
		}
		return fmt.Errorf("no camera-tamper/%s in /api/v1/alerts: %+v", cam, a.Alerts)
	})
	status, page := op.get("/wall/")
	if status != 200 || !strings.Contains(string(page), "<html") {
		t.Errorf("GET /wall/ with a session: %d %.200s", status, page)
	}
	from := url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	testenv.Eventually(t, 20*time.Second, func() error {
		var h struct {
			Series []struct {
				Field   string
				Samples []json.RawMessage
			}
		}
		if err := op.getJSON("/api/v1/devices/"+cam+"/history?from="+from, &h); err != nil {
			return err
		}
		for _, s := range h.Series {
			if s.Field == "fps" && len(s.Samples) > 0 {
				return nil
			}
		}
		return fmt.Errorf("no fps samples in the history yet: %+v", h.Series)
	})
	testenv.Eventually(t, 20*time.Second, func() error {
		var h struct{ Entries []struct{ Transition string } }
		if err := op.getJSON("/api/v1/alerts/history?device="+cam+"&from="+from, &h); err != nil {
			return err
		}
		if len(h.Entries) == 0 {
			return fmt.Errorf("no alert history yet")
		}
		return nil
	})

	// HTTP ingest behind the spool: a good reading is answered 200 once
	// spooled; a wrong type is refused at once (the registry declares the
	// field) and reported on _errors too (docs/MQTT.md's example).
	errs := connect(t, mq.URL, "envsense", secrets["envsense"])
	refusals := make(chan string, 16)
	if tok := errs.Subscribe("ioc/v1/envsense/_errors", 1, func(_ paho.Client, m paho.Message) { refusals <- string(m.Payload()) }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe _errors: %v", tok.Error())
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for _, c := range []struct {
		body   string
		status int
		want   string
	}{
		{`{"pm25": 35.2}`, 200, `"stored"`},
		{`{"pm25": "high"}`, 422, `"wrong_type"`},
	} {
		req, _ := http.NewRequest("POST", "https://"+httpIngest+"/v1/ingest/envsense/aq-tp-01/telemetry", strings.NewReader(c.body))
		req.SetBasicAuth("envsense", secrets["envsense"])
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(string(b), c.want) {
			t.Errorf("POST %s: %d %s, want %d %s", c.body, resp.StatusCode, b, c.status, c.want)
		}
	}
	select {
	case r := <-refusals:
		if !strings.Contains(r, `"reason":"wrong_type"`) {
			t.Errorf("_errors: %s, want wrong_type", r)
		}
	case <-time.After(30 * time.Second):
		t.Error("no wrong_type report on ioc/v1/envsense/_errors within 30 s")
	}
}

// newAccountSecrets gives every account in the credentials file a new
// secret from `ingest account-password-hash -generate` and returns them by name.
func newAccountSecrets(t *testing.T, ingestBin, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{}
	var out bytes.Buffer
	var name string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if m := regexp.MustCompile(`username:\s*(\S+)`).FindStringSubmatch(line); m != nil {
			name = m[1]
		}
		if i := strings.Index(line, "password_hash:"); i >= 0 {
			gen := strings.Split(strings.TrimSpace(run(t, nil, nil, ingestBin, "account-password-hash", "-generate")), "\n")
			if len(gen) != 2 || !strings.HasPrefix(gen[0], "secret: ") {
				t.Fatalf("ingest account-password-hash -generate printed %q", gen)
			}
			secrets[name] = strings.TrimPrefix(gen[0], "secret: ")
			line = line[:i] + `password_hash: "` + gen[1] + `"`
		}
		out.WriteString(line + "\n")
	}
	if err := os.WriteFile(path, out.Bytes(), 0o640); err != nil {
		t.Fatal(err)
	}
	return secrets
}

// relocate moves each path (as the shipped config names it) under root,
// through its variable; a relative path or one outside /etc/ioc and
// /var/lib/ioc fails: it would not resolve when systemd starts from /.
func relocate(t *testing.T, root string, env, paths map[string]string) {
	t.Helper()
	for k, p := range paths {
		if !strings.HasPrefix(p, "/etc/ioc/") && !strings.HasPrefix(p, "/var/lib/ioc") {
			t.Errorf("%s: the production config names %q; want an absolute path under /etc/ioc or /var/lib/ioc", k, p)
			continue
		}
		env[k] = filepath.Join(root, p)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// replaceIn replaces re's matches in file and fails if there are none: the
// shipped file no longer has what the README tells the sysadmin to change.
func replaceIn(t *testing.T, file string, re *regexp.Regexp, with string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !re.Match(b) {
		t.Fatalf("%s has no %s to adapt", file, re)
	}
	if err := os.WriteFile(file, re.ReplaceAllLiteral(b, []byte(with)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// run runs a command from / with PATH and env, and returns its output.
func run(t *testing.T, stdin io.Reader, env map[string]string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = "/"
	cmd.Stdin = stdin
	cmd.Env = environ(env)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func environ(env map[string]string) []string {
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=/root"}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// startFromRoot starts a server binary from / with env only (as systemd
// does with an EnvironmentFile), waits for ready to answer 200 and stops it
// (SIGTERM) when the test ends.
func startFromRoot(t *testing.T, name, bin string, env map[string]string, ready string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = "/"
	cmd.Env = environ(env)
	var log syncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, log.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("%s exited while starting: %v\n%s", name, err, log.String())
		default:
		}
		if resp, err := http.Get(ready); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s not 200 within 30 s\n%s", name, ready, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func loopback(t *testing.T) string { return "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)) }

// writeCert writes a self-signed certificate for 127.0.0.1, standing in
// for the one the sysadmin installs for HTTP ingest.
func writeCert(t *testing.T, certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func connect(t *testing.T, broker, username, password string) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(broker).SetClientID(username + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)).
		SetUsername(username).SetPassword(password).SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(10 * time.Second)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", username, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func publish(t *testing.T, c paho.Client, topic, body string) {
	t.Helper()
	if tok := c.Publish(topic, 1, false, body); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// session is a logged-in operator. The production cookie is Secure, which
// a cookie jar would not send over this test's plain HTTP (the TLS proxy's
// job): the cookie is sent by hand.
type session struct {
	t      *testing.T
	base   string
	cookie string
}

func loginOperator(t *testing.T, base, username, password string) *session {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": username, "password": password})
	req, _ := http.NewRequest("POST", base+"/api/v1/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("login %s: %d %s", username, resp.StatusCode, b)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "ioc_session" {
			if !c.Secure || !c.HttpOnly {
				t.Errorf("session cookie Secure=%v HttpOnly=%v; the production config wants both", c.Secure, c.HttpOnly)
			}
			return &session{t: t, base: base, cookie: c.Name + "=" + c.Value}
		}
	}
	t.Fatalf("login %s: no session cookie", username)
	return nil
}

func (s *session) get(path string) (int, []byte) {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.base+path, nil)
	req.Header.Set("Cookie", s.cookie)
	resp, err := (&http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (s *session) getJSON(path string, v any) error {
	status, b := s.get(path)
	if status != 200 {
		return fmt.Errorf("GET %s: %d %s", path, status, b)
	}
	return json.Unmarshal(b, v)
}
