package iocd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"
	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/iocd"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// The shipped configuration: tests run the product as a user would.
const (
	configs       = "../../configs/"
	sessionSecret = "test-secret-test-secret-test-secret-0123"
)

// system is ingest (embedded broker, embedded store, alerts) in process.
type system struct {
	Broker  string
	DataDir string
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func quietLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// startIngest runs ingest with the shipped registry, rules and
// credentials, on free loopback ports, until the test ends; mod, if any,
// changes the configuration first.
func startIngest(t testing.TB, mod ...func(*ingestd.Config)) *system {
	t.Helper()
	c := testenv.IngestConfig(t, configs, "devices.yaml")
	for _, f := range mod {
		f(c)
	}
	in := testenv.StartIngest(t, c, ingestd.Options{Log: quietLog(t)})
	return &system{Broker: in.Broker, DataDir: in.DataDir}
}

// iocConfig is configs/ioc.yaml pointed at sys.
func iocConfig(t testing.TB, sys *system, name string) *iocd.Config {
	t.Helper()
	c, err := iocd.LoadConfig([]string{"-config", configs + "ioc.yaml"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatalf("configs/ioc.yaml: %v", err)
	}
	c.Listen = "127.0.0.1:0"
	c.Registry = configs + "devices.yaml"
	c.Outline = configs + "province-outline.geojson"
	c.DistrictBoundaries = configs + "province-districts.geojson"
	c.Rules = configs + "rules.yaml"
	c.AuditLog = filepath.Join(t.TempDir(), "audit.log")
	c.MQTT.Broker = sys.Broker
	c.MQTT.ClientID = "ioc-test-" + name
	c.EmbeddedStore = filepath.Join(sys.DataDir, "ioc.db")
	c.Auth.SessionSecret = sessionSecret
	c.Log.Level = "warn"
	return c
}

// startIOC runs an ioc server until the test ends and returns its base
// URL once its picture is synced.
func startIOC(t testing.TB, c *iocd.Config) string {
	t.Helper()
	_, base := startIOCStoppable(t, c)
	return base
}

// startIOCStoppable is startIOC that can also be stopped early. c.Listen
// is set to the bound address, so a second start serves the same URL.
func startIOCStoppable(t testing.TB, c *iocd.Config) (stop func(), base string) {
	t.Helper()
	return startIOCWith(t, c, iocd.Options{})
}

// stoppedClock is a clock that does not move: the login limits' waits
// never run out during a test, however slow the machine checks passwords.
func stoppedClock() func() time.Time {
	at := time.Now()
	return func() time.Time { return at }
}

// startIOCWith is startIOCStoppable with options (a clock).
func startIOCWith(t testing.TB, c *iocd.Config, o iocd.Options) (stop func(), base string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		o.Log, o.Listening = quietLog(t), func(a net.Addr) { addr <- a }
		done <- iocd.Run(ctx, c, o)
	}()
	select {
	case a := <-addr:
		base = "http://" + a.String()
		c.Listen = a.String()
	case err := <-done:
		t.Fatalf("ioc exited at start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("ioc did not start in 30s")
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("ioc: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("ioc did not stop in 10s")
			}
		})
	}
	t.Cleanup(stop)
	testenv.Eventually(t, 15*time.Second, func() error {
		r, err := http.Get(base + "/readyz")
		if err != nil {
			return err
		}
		r.Body.Close()
		if r.StatusCode != 200 {
			return fmt.Errorf("readyz %d", r.StatusCode)
		}
		return nil
	})
	return stop, base
}

// user is a logged-in HTTP client.
type user struct {
	t    testing.TB
	base string
	c    *http.Client
	csrf string
}

func login(t testing.TB, base, name string) *user {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	u := &user{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	status, body := u.do("POST", "/api/v1/login", map[string]string{"username": name, "password": "demo-" + name})
	if status != 200 {
		t.Fatalf("login %s: %d %s", name, status, body)
	}
	var s struct{ CSRF string }
	if err := json.Unmarshal(body, &s); err != nil || s.CSRF == "" {
		t.Fatalf("login %s: %s", name, body)
	}
	u.csrf = s.CSRF
	return u
}

// do sends a request (with the CSRF token and the page's own Origin, as
// the pages do) and returns the status and body.
func (u *user) do(method, path string, body any, header ...string) (int, []byte) {
	u.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method != "GET" {
		req.Header.Set("Origin", u.base)
		if u.csrf != "" {
			req.Header.Set("X-CSRF-Token", u.csrf)
		}
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	r, err := u.c.Do(req)
	if err != nil {
		u.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, b
}

func (u *user) get(path string, v any) {
	u.t.Helper()
	status, body := u.do("GET", path, nil)
	if status != 200 {
		u.t.Fatalf("GET %s: %d %s", path, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		u.t.Fatalf("GET %s: %v", path, err)
	}
}

// dial opens the live stream with the session cookie and the page's origin.
func (u *user) dial(query string) (*websocket.Conn, error) {
	b, _ := url.Parse(u.base)
	h := http.Header{"Origin": {u.base}}
	for _, c := range u.c.Jar.Cookies(b) {
		h.Add("Cookie", c.Name+"="+c.Value)
	}
	c, r, err := websocket.DefaultDialer.Dial("ws://"+b.Host+"/api/v1/stream?"+query, h)
	if err != nil && r != nil {
		body, _ := io.ReadAll(r.Body)
		return nil, fmt.Errorf("%w: %d %s", err, r.StatusCode, body)
	}
	return c, err
}

// frame is any message on the stream.
type frame struct {
	Type    string          `json:"type"`
	Seq     uint64          `json:"seq"`
	Epoch   string          `json:"epoch"`
	Alert   *alertJSON      `json:"alert"`
	Device  *deviceJSON     `json:"device"`
	Alerts  []alertJSON     `json:"alerts"`
	Devices []deviceJSON    `json:"devices"`
	Counts  json.RawMessage `json:"counts"`
	got     time.Time
}

type alertJSON struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	District string `json:"district"`
	Device   string `json:"device"`
	Ack      *struct {
		By   string `json:"by"`
		Note string `json:"note"`
	} `json:"ack"`
}

type deviceJSON struct {
	ID       string `json:"id"`
	District string `json:"district"`
	Status   string `json:"status"`
	Health   string `json:"health"`
}

// reader collects a stream's frames.
type reader struct {
	mu     sync.Mutex
	frames []frame
	err    error
	c      *websocket.Conn
}

func read(t testing.TB, c *websocket.Conn) *reader {
	r := &reader{c: c}
	go func() {
		for {
			_, b, err := c.ReadMessage()
			if err != nil {
				r.mu.Lock()
				r.err = err
				r.mu.Unlock()
				return
			}
			var f frame
			if err := json.Unmarshal(b, &f); err != nil {
				t.Errorf("frame %s: %v", b, err)
			}
			f.got = time.Now()
			r.mu.Lock()
			r.frames = append(r.frames, f)
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close() })
	return r
}

// wait returns the first frame (from index from) that match accepts.
func (r *reader) wait(t testing.TB, timeout time.Duration, match func(f *frame) bool) frame {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r.mu.Lock()
		for i := range r.frames {
			if match(&r.frames[i]) {
				f := r.frames[i]
				r.mu.Unlock()
				return f
			}
		}
		err := r.err
		r.mu.Unlock()
		if err != nil {
			t.Fatalf("stream ended: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no matching frame in %s", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *reader) all() []frame {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]frame(nil), r.frames...)
}

// device publishes as an integrator's gateway, with the shipped demo
// credentials.
func integrator(t testing.TB, sys *system, name string) func(device, channel, body string) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(sys.Broker).SetClientID("gw-" + name + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)).
		SetUsername(name).SetPassword("demo-" + name).SetCleanSession(true).SetConnectTimeout(5 * time.Second)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", name, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return func(device, channel, body string) {
		t.Helper()
		tok := c.Publish("ioc/v1/"+name+"/"+device+"/"+channel, 1, false, []byte(body))
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
}

// copyConfig copies configs/name into dir (for a test that edits it) and
// returns the copy's path.
func copyConfig(t testing.TB, dir, name string) string {
	t.Helper()
	return testenv.CopyFile(t, configs+name, dir)
}
