// Package testenv starts real servers for tests: influxd 1.8 and Mosquitto,
// each on free loopback ports in a temporary directory, stopped when the
// test ends. The test command (scripts/test) installs both.
package testenv

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// TB is the part of TB the helpers use, so that the bench command
// can start the same servers outside go test.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Fatal(args ...any)
	TempDir() string
	Cleanup(func())
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Binary finds a server binary on PATH or in $GOPATH/bin and fails the test
// with the fix when it is missing.
func Binary(t TB, name string, alsoIn ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	dirs := alsoIn
	if gp, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		dirs = append(dirs, filepath.Join(strings.TrimSpace(string(gp)), "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("%s not found: run scripts/test, which installs the servers the tests need", name)
	return ""
}

// CopyFile copies the file src into dir (for a test that edits it or
// hands it to a server that does) and returns the copy's path.
func CopyFile(t TB, src, dir string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Eventually polls cond every 20ms until it returns nil or timeout passes,
// then fails the test with cond's last error.
func Eventually(t TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not true after %s: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// process is a server child process that can be stopped and started again
// with the same arguments, ports and data.
type process struct {
	t    TB
	name string
	bin  string
	args []string
	log  string
	cmd  *exec.Cmd
	wait chan error
}

func (p *process) start() {
	p.t.Helper()
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	p.cmd = cmd
	p.wait = make(chan error, 1)
	go func() { p.wait <- cmd.Wait(); logf.Close() }()
}

func (p *process) stop(sig syscall.Signal) {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.wait:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.wait
	}
	p.cmd = nil
}

func (p *process) logTail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// waitHTTP polls url until it answers with want or the process dies.
func (p *process) waitHTTP(url string, want int) {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.wait:
			p.cmd = nil // gone: nothing to stop
			p.t.Fatalf("%s exited while starting: %v\n%s", p.name, err, p.logTail())
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("%s did not answer %s within 60s\n%s", p.name, url, p.logTail())
}

func (p *process) waitTCP(addr string) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.wait:
			p.cmd = nil // gone: nothing to stop
			p.t.Fatalf("%s exited while starting: %v\n%s", p.name, err, p.logTail())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			// Someone listens; make sure it is this process and not another
			// test's server that took the port first (ours then exits).
			select {
			case err := <-p.wait:
				p.cmd = nil
				p.t.Fatalf("%s exited while starting (port %s taken by another process?): %v\n%s", p.name, addr, err, p.logTail())
			case <-time.After(200 * time.Millisecond):
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatalf("%s did not listen on %s within 30s\n%s", p.name, addr, p.logTail())
}

// Influx is a running influxd 1.8 with Flux enabled and database DB created.
type Influx struct {
	URL string
	DB  string
	p   *process
}

// InfluxOptions tune influxd for a test.
type InfluxOptions struct {
	// Auth turns on authentication (auth-enabled) and leaves the server
	// empty: no user, no database; the test creates them.
	Auth bool
	// NoFlux leaves flux-enabled at InfluxDB 1.8's default, false.
	NoFlux bool
}

// StartInflux starts influxd 1.8 on a free port with a fresh data directory,
// Flux enabled and database DB created.
func StartInflux(t TB) *Influx {
	t.Helper()
	return StartInfluxWith(t, InfluxOptions{})
}

// StartInfluxWith starts influxd 1.8 as StartInflux does, tuned by o.
func StartInfluxWith(t TB, o InfluxOptions) *Influx {
	t.Helper()
	bin := Binary(t, "influxd")
	dir := t.TempDir()
	httpPort, rpcPort := FreePort(t), FreePort(t)
	conf := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = %q
[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
  trace-logging-enabled = false
[coordinator]
  log-queries-after = "0s"
[http]
  enabled = true
  bind-address = "127.0.0.1:%d"
  auth-enabled = %t
  log-enabled = false
  flux-enabled = %t
  max-body-size = 0
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
[logging]
  level = "warn"
`, rpcPort, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"), httpPort, o.Auth, !o.NoFlux)
	cfg := filepath.Join(dir, "influxdb.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	in := &Influx{
		URL: "http://127.0.0.1:" + strconv.Itoa(httpPort),
		DB:  "ioc",
		p:   &process{t: t, name: "influxd", bin: bin, args: []string{"-config", cfg}, log: filepath.Join(dir, "influxd.log")},
	}
	in.Start()
	t.Cleanup(func() { in.p.stop(syscall.SIGTERM) })
	if !o.Auth {
		in.query(t, "CREATE DATABASE "+in.DB)
	}
	return in
}

// Start starts a stopped influxd again on the same port and data.
func (in *Influx) Start() {
	in.p.t.Helper()
	in.p.start()
	in.p.waitHTTP(in.URL+"/ping", http.StatusNoContent)
}

// Stop stops influxd (SIGTERM), keeping its data.
func (in *Influx) Stop() { in.p.stop(syscall.SIGTERM) }

// Kill kills influxd (SIGKILL), keeping its data.
func (in *Influx) Kill() { in.p.stop(syscall.SIGKILL) }

// query runs an InfluxQL statement.
func (in *Influx) query(t TB, q string) string {
	t.Helper()
	resp, err := http.PostForm(in.URL+"/query", map[string][]string{"q": {q}, "db": {in.DB}})
	if err != nil {
		t.Fatalf("influx %q: %v", q, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("influx %q: %s: %s", q, resp.Status, b.String())
	}
	return b.String()
}

// InfluxQL runs an InfluxQL query against DB and returns the JSON response.
func (in *Influx) InfluxQL(t TB, q string) string {
	t.Helper()
	return in.query(t, q)
}

// Mosquitto is a running Mosquitto broker.
type Mosquitto struct {
	Addr string // host:port
	URL  string // tcp://host:port
	// SaveFile is the persistence file Mosquitto writes every second and
	// when stopped, and reads when it starts.
	SaveFile string
	p        *process
}

// MosquittoOptions tune the broker under test.
type MosquittoOptions struct {
	// PasswordFile and ACLFile, when set, turn off anonymous access.
	PasswordFile, ACLFile string
	// Extra is appended to the generated configuration.
	Extra string
}

// StartMosquitto starts Mosquitto with persistence and the queue settings
// ingest needs (no cap on queued or inflight QoS 1 messages; see README).
func StartMosquitto(t TB, o MosquittoOptions) *Mosquitto {
	t.Helper()
	bin := Binary(t, "mosquitto", "/usr/sbin")
	dir := t.TempDir()
	port := FreePort(t)
	// As root, Mosquitto drops to user mosquitto, which cannot write its
	// persistence file into our temporary directory: stay the test's user.
	access := "allow_anonymous true"
	if o.PasswordFile != "" {
		access = fmt.Sprintf("allow_anonymous false\npassword_file %s\nacl_file %s", o.PasswordFile, o.ACLFile)
	}
	conf := fmt.Sprintf(`listener %d 127.0.0.1
user %s
%s
persistence true
persistence_location %s/
autosave_interval 1
max_queued_messages 0
max_inflight_messages 0
log_dest stderr
log_type error
log_type warning
%s
`, port, currentUser(), access, dir, o.Extra)
	cfg := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	m := &Mosquitto{
		Addr:     addr,
		URL:      "tcp://" + addr,
		SaveFile: filepath.Join(dir, "mosquitto.db"),
		p:        &process{t: t, name: "mosquitto", bin: bin, args: []string{"-c", cfg}, log: filepath.Join(dir, "mosquitto.log")},
	}
	m.Start()
	t.Cleanup(func() { m.p.stop(syscall.SIGTERM) })
	return m
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "root"
}

// Start starts a stopped broker again with the same port and persistence.
func (m *Mosquitto) Start() {
	m.p.t.Helper()
	m.p.start()
	m.p.waitTCP(m.Addr)
}

// Stop stops the broker gracefully (it saves its persistence file).
func (m *Mosquitto) Stop() { m.p.stop(syscall.SIGTERM) }

// StartMosquittoConfig starts Mosquitto with the test's own configuration
// file conf, whose listener is addr (host:port): the user it runs as, its
// paths, persistence and accounts are conf's. It stops with the test.
func StartMosquittoConfig(t TB, conf, addr string) *Mosquitto {
	t.Helper()
	bin := Binary(t, "mosquitto", "/usr/sbin")
	m := &Mosquitto{
		Addr: addr,
		URL:  "tcp://" + addr,
		p:    &process{t: t, name: "mosquitto", bin: bin, args: []string{"-c", conf}, log: filepath.Join(t.TempDir(), "mosquitto.log")},
	}
	m.Start()
	t.Cleanup(func() { m.p.stop(syscall.SIGTERM) })
	return m
}

// Log returns the end of the broker's output, for a failure message.
func (m *Mosquitto) Log() string { return m.p.logTail() }
