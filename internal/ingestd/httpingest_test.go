package ingestd_test

import (
	"context"
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
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/store"
	"github.com/ioc-vn/ioc/internal/store/influx"
	"github.com/ioc-vn/ioc/internal/testenv"
)

type answer struct {
	code int
	body map[string]string
}

func post(t *testing.T, client *http.Client, url, user, pass, body string) (answer, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{code: resp.StatusCode}
	if err := json.Unmarshal(b, &a.body); err != nil {
		t.Fatalf("%s: answer is not JSON: %q", url, b)
	}
	return a, nil
}

// TestHTTPIngest sends the contract's payloads over HTTP: 200 only once
// stored (and not while InfluxDB is down), precise 4xx otherwise.
func TestHTTPIngest(t *testing.T) {
	in := testenv.StartInflux(t)
	c := testConfig(t)
	c.Influx.URL, c.Influx.Database = in.URL, in.DB
	c.Influx.Timeout = 2 * time.Second
	// Without the spool, HTTP answers carry InfluxDB's own verdict (422 for
	// a type conflict, 503 while it is down); with it (the default), 200
	// means spooled and a later refusal goes to the integrator's _errors
	// topic (TestSpoolRefusalReachesIntegrator).
	c.Spool.Enabled = false
	c.Pipeline.RetryMax = 500 * time.Millisecond
	c.HTTPIngest.Listen = "127.0.0.1:0"
	c.HTTPIngest.Timeout = 3 * time.Second

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- ingestd.Run(ctx, c, ingestd.Options{Log: slog.New(slog.DiscardHandler), HTTPIngestStarted: func(a string) { addr <- a }})
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a + "/v1/ingest/"
	case err := <-done:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("HTTP ingest did not start")
	}
	defer func() { cancel(); <-done }()
	hc := &http.Client{Timeout: 10 * time.Second}
	ts := time.Now().Add(-time.Minute).UnixMilli()

	ok, err := post(t, hc, base+"envsense/aq-tp-01/telemetry", "envsense", "demo-envsense", fmt.Sprintf(`{"ts": %d, "pm25": 35.2}`, ts))
	if err != nil || ok.code != http.StatusOK || ok.body["status"] != "stored" {
		t.Fatalf("good reading: %v %+v", err, ok)
	}
	// 200 means durably stored: in the fsync'd spool, and in InfluxDB as
	// soon as the spool drains (milliseconds when InfluxDB is up).
	st, _ := influx.New(c.Influx)
	defer st.Close()
	testenv.Eventually(t, 5*time.Second, func() error {
		pts, err := st.Query(context.Background(), store.Query{Device: "aq-tp-01", From: time.UnixMilli(ts), To: time.UnixMilli(ts + 1)})
		if err != nil || len(pts) != 1 {
			return fmt.Errorf("after 200, InfluxDB holds %d points (%v)", len(pts), err)
		}
		return nil
	})

	for _, tc := range []struct {
		path, user, pass, body string
		code                   int
		reason                 string
	}{
		{"envsense/aq-tp-01/telemetry", "", "", `{"pm25": 1}`, 401, "unauthorized"},
		{"envsense/aq-tp-01/telemetry", "envsense", "wrong", `{"pm25": 1}`, 401, "unauthorized"},
		{"vms-tn/cam-bvtw-01/status", "envsense", "demo-envsense", `{"state": "online"}`, 403, "forbidden"},
		{"envsense/cam-bvtw-01/status", "envsense", "demo-envsense", `{"state": "online"}`, 403, "foreign_device"},
		{"envsense/no-such-sensor/telemetry", "envsense", "demo-envsense", `{"pm25": 1}`, 404, "unknown_device"},
		{"envsense/aq-tp-01/video", "envsense", "demo-envsense", `{"pm25": 1}`, 404, "unknown_channel"},
		{"envsense/aq-tp-01/telemetry", "envsense", "demo-envsense", `{"pm25": `, 422, "malformed_json"},
		{"envsense/aq-tp-01/telemetry", "envsense", "demo-envsense", "air pm25=NaN", 422, "malformed_line_protocol"},
		{"envsense/aq-tp-01/telemetry", "envsense", "demo-envsense", `{"pm25": "high"}`, 422, "wrong_type"},
		{"envsense/aq-tp-01/telemetry", "envsense", "demo-envsense", `{"blob": "` + strings.Repeat("x", 300<<10) + `"}`, 413, "payload_too_large"},
	} {
		a, err := post(t, hc, base+tc.path, tc.user, tc.pass, tc.body)
		if err != nil {
			t.Fatal(err)
		}
		if a.code != tc.code || a.body["reason"] != tc.reason || a.body["error"] == "" {
			t.Errorf("POST %s as %q: %d %+v, want %d %s with an error text", tc.path, tc.user, a.code, a.body, tc.code, tc.reason)
		}
	}

	// While InfluxDB is down nothing is confirmed: no 2xx.
	in.Stop()
	short := &http.Client{Timeout: 10 * time.Second}
	a, err := post(t, short, base+"envsense/aq-tp-01/telemetry", "envsense", "demo-envsense", fmt.Sprintf(`{"ts": %d, "pm25": 40}`, ts+1))
	if err == nil && a.code < 300 {
		t.Fatalf("answered %d while InfluxDB was down", a.code)
	}
	if err == nil && (a.code != http.StatusServiceUnavailable || a.body["reason"] != "not_stored_yet") {
		t.Fatalf("during the outage: %d %+v, want 503 not_stored_yet", a.code, a.body)
	}
	in.Start()
	testenv.Eventually(t, 30*time.Second, func() error {
		a, err := post(t, hc, base+"envsense/aq-tp-01/telemetry", "envsense", "demo-envsense", fmt.Sprintf(`{"ts": %d, "pm25": 41}`, ts+2))
		if err != nil {
			return err
		}
		if a.code != http.StatusOK {
			return fmt.Errorf("after InfluxDB returned: %d %+v", a.code, a.body)
		}
		return nil
	})
	// The request that timed out was stored after all (once: it carries ts).
	testenv.Eventually(t, 10*time.Second, func() error {
		pts, err := st.Query(context.Background(), store.Query{Device: "aq-tp-01", From: time.UnixMilli(ts), To: time.UnixMilli(ts + 3)})
		if err != nil {
			return err
		}
		if len(pts) != 3 {
			return fmt.Errorf("%d points, want 3", len(pts))
		}
		return nil
	})
}

// TestHTTPIngestOverTLS serves HTTP ingest over HTTPS with a generated
// certificate; a client that trusts it is answered, plain HTTP is not.
func TestHTTPIngestOverTLS(t *testing.T) {
	certPEM, keyPEM, pool := selfSigned(t)
	dir := t.TempDir()
	c := testConfig(t)
	c.HTTPIngest.Listen = "127.0.0.1:0"
	c.HTTPIngest.TLSCert, c.HTTPIngest.TLSKey = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(c.HTTPIngest.TLSCert, certPEM, 0o600)
	os.WriteFile(c.HTTPIngest.TLSKey, keyPEM, 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- ingestd.Run(ctx, c, ingestd.Options{Log: slog.New(slog.DiscardHandler), HTTPIngestStarted: func(a string) { addr <- a }})
	}()
	defer func() { cancel(); <-done }()
	var a string
	select {
	case a = <-addr:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("HTTP ingest did not start")
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	ans, err := post(t, hc, "https://"+a+"/v1/ingest/envsense/aq-tp-01/telemetry", "envsense", "demo-envsense", `{"pm25": 12}`)
	if err != nil || ans.code != http.StatusOK {
		t.Fatalf("over HTTPS: %v %+v", err, ans)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Post("http://"+a+"/v1/ingest/envsense/aq-tp-01/telemetry", "application/json", strings.NewReader(`{"pm25": 1}`))
	if err == nil {
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP accepted on the HTTPS listener")
		}
	}
}

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte, pool *x509.CertPool) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ioc test"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), pool
}
