package iocd_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestNoListingNoPublicMetrics: the security review's low findings on the
// public port. No directory is listed (probe 224), and /metrics needs an
// admin's session or the metrics token.
func TestNoListingNoPublicMetrics(t *testing.T) {
	sys := startIngest(t)
	c := iocConfig(t, sys, "surface")
	c.MetricsToken = "scrape-token-0123456789"
	base := startIOC(t, c)

	get := func(path string, header ...string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		r, err := (&http.Transport{}).RoundTrip(req) // no redirects followed
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, string(b)
	}
	for _, c := range []struct {
		path string
		want int
	}{
		{"/static/", 404}, {"/static", 404}, {"/static/login.js", 200}, {"/wall/", 200}, {"/tech/", 200}, {"/login.html", 200},
	} {
		if status, body := get(c.path); status != c.want || strings.Contains(body, "<pre>\n<a href=") {
			t.Errorf("GET %s: %d %.80q, want %d and no listing", c.path, status, body, c.want)
		}
	}

	if status, body := get("/metrics"); status != 401 || strings.Contains(body, "go_goroutines") {
		t.Errorf("GET /metrics without credentials: %d %.80q, want 401", status, body)
	}
	if status, _ := get("/metrics", "Authorization", "Bearer wrong"); status != 401 {
		t.Errorf("GET /metrics with a wrong token: %d, want 401", status)
	}
	if status, body := get("/metrics", "Authorization", "Bearer "+c.MetricsToken); status != 200 || !strings.Contains(body, "ioc_ws_clients") {
		t.Errorf("GET /metrics with the token: %d %.80q", status, body)
	}
	if status, _ := login(t, base, "operator").do("GET", "/metrics", nil); status != 401 {
		t.Errorf("GET /metrics as operator: %d, want 401", status)
	}
	if status, body := login(t, base, "admin").do("GET", "/metrics", nil); status != 200 || !strings.Contains(string(body), "go_goroutines") {
		t.Errorf("GET /metrics as admin: %d", status)
	}
}
