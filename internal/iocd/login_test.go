package iocd_test

import (
	"context"
	"fmt"
	"github.com/ioc-vn/ioc/internal/iocd"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"
)

// from is an anonymous client whose connections come from a loopback
// address of its own (127.0.0.0/8 is all the machine's), as if from
// another computer.
func from(t testing.TB, base, ip string) *user {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &user{t: t, base: base, c: &http.Client{Jar: jar, Transport: tr, Timeout: 30 * time.Second}}
}

func (u *user) logins(n int, name, password string, header ...string) []int {
	u.t.Helper()
	var got []int
	for range n {
		status, _ := u.do("POST", "/api/v1/login", map[string]string{"username": name, "password": password}, header...)
		got = append(got, status)
	}
	return got
}

// TestLoginLimitPerUserAndAddress is the security review's F9 over HTTP:
// probe 226 (an attacker guessing admin from one address cannot lock the
// real admin out from another), probe 230 (users behind one address do
// not lock each other out) and probe 229 (X-Forwarded-For from a peer that
// is not a trusted proxy does not evade the limit).
func TestLoginLimitPerUserAndAddress(t *testing.T) {
	sys := startIngest(t)
	_, base := startIOCWith(t, iocConfig(t, sys, "limits"), iocd.Options{Now: stoppedClock()})

	if got := from(t, base, "127.0.0.22").logins(7, "admin", "guess"); fmt.Sprint(got) != "[401 401 401 401 401 429 429]" {
		t.Fatalf("attacker's 7 guesses: %v", got)
	}
	if got := from(t, base, "127.0.0.23").logins(1, "admin", "demo-admin"); got[0] != 200 {
		t.Errorf("probe 226: the real admin from another address after the attacker's guesses: %d, want 200", got[0])
	}

	shared := from(t, base, "127.0.0.24")
	shared.logins(7, "technician", "typo")
	if got := shared.logins(1, "operator", "demo-operator"); got[0] != 200 {
		t.Errorf("probe 230: operator behind the same address as another user's 7 failures: %d, want 200", got[0])
	}

	rot := from(t, base, "127.0.0.25")
	var got []int
	for i := range 7 {
		got = append(got, rot.logins(1, "viewer", "guess", "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i+1))...)
	}
	if fmt.Sprint(got) != "[401 401 401 401 401 429 429]" {
		t.Errorf("probe 229: X-Forwarded-For rotation from an untrusted peer: %v, want the limit to hold", got)
	}
}

// TestTrustedProxy: behind a trusted proxy the client is the rightmost
// X-Forwarded-For address that is not a proxy; the limit and the audit log
// use it, and what the client itself put in the header is ignored.
func TestTrustedProxy(t *testing.T) {
	sys := startIngest(t)
	c := iocConfig(t, sys, "proxy")
	c.TrustedProxies = []string{"127.0.0.30", "10.9.0.0/16"}
	_, base := startIOCWith(t, c, iocd.Options{Now: stoppedClock()})
	proxy := from(t, base, "127.0.0.30")

	xff := func(v string) []string { return []string{"X-Forwarded-For", v} }
	if got := proxy.logins(6, "operator", "typo", xff("198.51.100.7")...); fmt.Sprint(got) != "[401 401 401 401 401 429]" {
		t.Fatalf("client 198.51.100.7 through the proxy: %v", got)
	}
	if got := proxy.logins(1, "operator", "demo-operator", xff("198.51.100.8")...); got[0] != 200 {
		t.Fatalf("another client through the same proxy: %d, want 200", got[0])
	}
	// The client forges an address left of its own; a second proxy hop
	// (10.9.0.5, trusted) is skipped.
	if got := proxy.logins(1, "operator", "demo-operator", xff("192.0.2.1, 198.51.100.7, 10.9.0.5")...); got[0] != 429 {
		t.Fatalf("client 198.51.100.7 with a forged address in front: %d, want 429", got[0])
	}
	// A peer that is not a trusted proxy gets no say.
	if got := from(t, base, "127.0.0.31").logins(1, "operator", "demo-operator", xff("198.51.100.7")...); got[0] != 200 {
		t.Fatalf("an untrusted peer naming the limited client: %d, want 200", got[0])
	}

	var a struct {
		Entries []struct{ Action, User, IP string }
	}
	login(t, base, "admin").get("/api/v1/audit", &a)
	var ips []string
	for _, e := range a.Entries {
		if e.User == "operator" {
			ips = append(ips, e.Action+"@"+e.IP)
		}
	}
	joined := strings.Join(ips, " ")
	for _, want := range []string{"login_failed@198.51.100.7", "login_limited@198.51.100.7", "login@198.51.100.8", "login@127.0.0.31"} {
		if !strings.Contains(joined, want) {
			t.Errorf("audit log %q lacks %s", joined, want)
		}
	}
	if strings.Contains(joined, "127.0.0.30") || strings.Contains(joined, "192.0.2.1") {
		t.Errorf("audit log names the proxy or a forged address: %q", joined)
	}
}
