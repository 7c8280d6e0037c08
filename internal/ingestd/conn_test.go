package ingestd_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// clientFrom is an HTTP client whose connections come from the loopback
// address from.
func clientFrom(from string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

func startHTTPIngest(t *testing.T, tune func(c *ingestd.Config)) (*running, string) {
	t.Helper()
	c := testConfig(t)
	c.HTTPIngest.Listen = "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	if tune != nil {
		tune(c)
	}
	ing := startIngest(t, c, nil)
	base := "http://" + c.HTTPIngest.Listen + "/v1/ingest/"
	testenv.Eventually(t, 10*time.Second, func() error {
		conn, err := net.Dial("tcp", c.HTTPIngest.Listen)
		if err == nil {
			conn.Close()
		}
		return err
	})
	return ing, base
}

// TestHTTPIngestPasswordGuessingLimited: wrong passwords from one address
// are soon answered 429 with Retry-After, without being checked; the same
// account from another address is served.
func TestHTTPIngestPasswordGuessingLimited(t *testing.T) {
	ing, base := startHTTPIngest(t, nil)
	url := base + "envsense/aq-tp-01/telemetry"
	guesser := clientFrom("127.0.0.1")
	codes := map[int]int{}
	retryAfter := ""
	for i := range 30 {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"pm25": 1}`))
		req.SetBasicAuth("envsense", "guess-"+strconv.Itoa(i))
		resp, err := guesser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		codes[resp.StatusCode]++
		if resp.StatusCode == http.StatusTooManyRequests {
			retryAfter = resp.Header.Get("Retry-After")
		}
	}
	if codes[http.StatusUnauthorized] == 0 || codes[http.StatusUnauthorized] > 4 || codes[http.StatusTooManyRequests] < 26 {
		t.Fatalf("answers to 30 wrong passwords: %v; want a few 401 then 429", codes)
	}
	if n, err := strconv.Atoi(retryAfter); err != nil || n < 1 {
		t.Fatalf("429 with Retry-After %q", retryAfter)
	}
	if n := metric(t, ing.HTTP, `ioc_httpingest_refused_total{reason="rate_limited"}`); n < 26 {
		t.Fatalf("rate_limited counted %v times", n)
	}
	a, err := post(t, guesser, url, "envsense", "demo-envsense", `{"pm25": 1}`)
	if err != nil || a.code != http.StatusTooManyRequests {
		t.Fatalf("right password from the guessing address: %v %v, want 429", a, err)
	}
	a, err = post(t, clientFrom("127.0.0.2"), url, "envsense", "demo-envsense", `{"pm25": 1}`)
	if err != nil || a.code != http.StatusOK {
		t.Fatalf("right password from 127.0.0.2: %v %v, want 200", a, err)
	}
}

// TestHTTPIngestStalledBodiesHoldNoSlots: one integrator with many requests
// whose bodies never come cannot make another integrator get 503, and the
// stalled connections are cut after the body timeout.
func TestHTTPIngestStalledBodiesHoldNoSlots(t *testing.T) {
	_, base := startHTTPIngest(t, func(c *ingestd.Config) {
		c.HTTPIngest.MaxConcurrent = 4
		c.HTTPIngest.BodyTimeout = 5 * time.Second
	})
	host := strings.TrimPrefix(strings.TrimSuffix(base, "/v1/ingest/"), "http://")
	var stalled []net.Conn
	for range 12 {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		req, _ := http.NewRequest(http.MethodPost, base+"envsense/aq-tp-01/telemetry", nil)
		req.SetBasicAuth("envsense", "demo-envsense")
		head := "POST " + req.URL.Path + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 1000\r\nAuthorization: " +
			req.Header.Get("Authorization") + "\r\n\r\n{\"pm25\":"
		if _, err := conn.Write([]byte(head)); err != nil {
			t.Fatal(err)
		}
		stalled = append(stalled, conn)
	}
	// The 12 are authenticated and waiting for their bodies: let the
	// server reach that point for all of them (a request that does not
	// answer yet is one being read), then ask for another integrator.
	until := time.Now().Add(300 * time.Millisecond)
	for i, conn := range stalled {
		_ = conn.SetReadDeadline(until)
		if _, err := conn.Read(make([]byte, 1)); !isTimeout(err) {
			t.Fatalf("stalled request %d answered before its body came: %v", i, err)
		}
	}
	a, err := post(t, clientFrom("127.0.0.1"), base+"vms-tn/cam-bvtw-01/status", "vms-tn", "demo-vms-tn", `{"state":"online"}`)
	if err != nil || a.code != http.StatusOK {
		t.Fatalf("vms-tn while envsense stalls 12 bodies: %v %v, want 200", a, err)
	}
	for i, conn := range stalled {
		_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("stalled request %d: %d, want 400 after the body timeout", i, resp.StatusCode)
			}
			continue
		}
		if isTimeout(err) {
			t.Fatalf("stalled request %d still open 15 s on", i)
		}
	}
}

// TestMetricsListenerIdleTimeout: a keep-alive connection to the metrics
// listener is closed once idle for http.idle_timeout.
func TestMetricsListenerIdleTimeout(t *testing.T) {
	c := testConfig(t)
	c.HTTP.IdleTimeout = 300 * time.Millisecond
	ing := startIngest(t, c, nil)
	conn, err := net.Dial("tcp", ing.HTTP)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); isTimeout(err) {
		t.Fatal("an idle keep-alive connection was still open 10 s on")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestHTTPIngestRefusesServerAccounts: the server processes' accounts
// send no device data over HTTP ingest, whatever the topic.
func TestHTTPIngestRefusesServerAccounts(t *testing.T) {
	_, base := startHTTPIngest(t, nil)
	cl := clientFrom("127.0.0.1")
	for _, user := range []string{"ioc-server", "ioc-ingest"} {
		for _, path := range []string{"vms-tn/cam-bvtw-01/status", "envsense/aq-tp-01/telemetry"} {
			a, err := post(t, cl, base+path, user, "demo-"+user, `{"state":"online","pm25":1}`)
			if err != nil {
				t.Fatal(err)
			}
			if a.code != http.StatusForbidden || a.body["reason"] != "forbidden" {
				t.Errorf("%s POST %s: %d %v, want 403 forbidden", user, path, a.code, a.body)
			}
		}
	}
	a, err := post(t, cl, base+"vms-tn/cam-bvtw-01/status", "vms-tn", "demo-vms-tn", `{"state":"online"}`)
	if err != nil || a.code != http.StatusOK {
		t.Fatalf("vms-tn: %v %v, want 200", a, err)
	}
}
