package auth

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// clock is a manual clock for the limiter.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)} }
func hash(t testing.TB, pw string) string {
	t.Helper()
	b, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func testAuth(t testing.TB, c *clock, users ...string) *Auth {
	t.Helper()
	cfg := Config{SessionSecret: "0123456789abcdef0123456789abcdef", LoginRate: 10, LoginBurst: 5, LoginMaxDelay: 15 * time.Minute, LoginAddressBurst: 30}
	for _, u := range users {
		cfg.Users = append(cfg.Users, User{Username: u, Role: Admin, PasswordHash: hash(t, "pw-"+u)})
	}
	a, err := New(cfg, c.now)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// outcome is 200, 401 or 429 for one login.
func outcome(a *Auth, ip, user, pw string) int {
	_, _, err := a.Login(ip, user, pw)
	switch {
	case err == nil:
		return 200
	case errors.Is(err, ErrRateLimited):
		return 429
	}
	return 401
}

// TestLoginLimits is the security review's F9 (probes 225, 226, 230): the
// limit is per (username, address) with growing waits, so an attacker
// cannot lock the administrator out from elsewhere, users behind one
// address do not lock each other out, and successes cost nothing.
func TestLoginLimits(t *testing.T) {
	t.Run("guessing from one address is slowed, more each time", func(t *testing.T) {
		c := newClock()
		a := testAuth(t, c, "technician")
		var got []int
		for range 7 {
			got = append(got, outcome(a, "10.0.0.22", "technician", "wrong"))
		}
		if fmt.Sprint(got) != "[401 401 401 401 401 429 429]" {
			t.Fatalf("7 wrong guesses: %v", got)
		}
		for _, wait := range []time.Duration{6 * time.Second, 12 * time.Second, 24 * time.Second} {
			c.add(wait - time.Second)
			if got := outcome(a, "10.0.0.22", "technician", "wrong"); got != 429 {
				t.Fatalf("a second before the %s wait ends: %d, want 429", wait, got)
			}
			c.add(time.Second)
			if got := outcome(a, "10.0.0.22", "technician", "wrong"); got != 401 {
				t.Fatalf("after the %s wait: %d, want 401 (the guess is checked)", wait, got)
			}
		}
		c.add(time.Hour)
		if got := outcome(a, "10.0.0.22", "technician", "pw-technician"); got != 200 {
			t.Fatalf("the waits never exceed login_max_delay: %d", got)
		}
	})
	t.Run("probe 226: the real admin logs in from another address", func(t *testing.T) {
		c := newClock()
		a := testAuth(t, c, "admin")
		for range 7 {
			outcome(a, "127.0.0.22", "admin", "guess")
		}
		if got := outcome(a, "127.0.0.23", "admin", "pw-admin"); got != 200 {
			t.Fatalf("real admin from another address after 7 guesses elsewhere: %d, want 200", got)
		}
	})
	t.Run("probe 230: users behind one address do not lock each other out", func(t *testing.T) {
		c := newClock()
		a := testAuth(t, c, "operator", "technician")
		for range 7 {
			outcome(a, "10.1.1.1", "technician", "typo")
		}
		if got := outcome(a, "10.1.1.1", "operator", "pw-operator"); got != 200 {
			t.Fatalf("operator from the shared address: %d, want 200", got)
		}
	})
	t.Run("a successful login spends nothing and clears the pair", func(t *testing.T) {
		c := newClock()
		a := testAuth(t, c, "viewer")
		for range 4 {
			outcome(a, "10.2.2.2", "viewer", "typo")
		}
		for range 50 {
			if got := outcome(a, "10.2.2.2", "viewer", "pw-viewer"); got != 200 {
				t.Fatalf("repeated good logins: %d", got)
			}
		}
		var got []int
		for range 6 {
			got = append(got, outcome(a, "10.2.2.2", "viewer", "typo"))
		}
		if fmt.Sprint(got) != "[401 401 401 401 401 429]" {
			t.Fatalf("after a success the pair starts afresh: %v", got)
		}
	})
	t.Run("username spraying from one address hits the address budget", func(t *testing.T) {
		c := newClock()
		a := testAuth(t, c, "admin")
		var limited int
		for i := range 40 {
			if outcome(a, "10.3.3.3", fmt.Sprintf("user%d", i), "x") == 429 {
				limited++
			}
		}
		if limited != 10 {
			t.Fatalf("40 usernames from one address: %d limited, want the 10 beyond login_address_burst (30)", limited)
		}
		if got := outcome(a, "10.3.3.4", "admin", "pw-admin"); got != 200 {
			t.Fatalf("another address: %d", got)
		}
	})
}

func request(cookie *http.Cookie) *http.Request {
	r := httptest.NewRequest("GET", "/api/v1/session", nil)
	if cookie != nil {
		r.AddCookie(cookie)
	}
	return r
}

// TestLogoutRevokes: a logged-out cookie is refused by the server that
// took the logout, and by another that applies the shared revocation; the
// revocation names the token without being it.
func TestLogoutRevokes(t *testing.T) {
	c := newClock()
	a := testAuth(t, c, "viewer")
	b, err := New(a.cfg, c.now) // a second server with the same secret and users
	if err != nil {
		t.Fatal(err)
	}
	_, cookie, err := a.Login("10.0.0.1", "viewer", "pw-viewer")
	if err != nil {
		t.Fatal(err)
	}
	_, other, _ := a.Login("10.0.0.1", "viewer", "pw-viewer")
	if a.Session(request(cookie)) == nil || b.Session(request(cookie)) == nil {
		t.Fatal("a fresh session is refused")
	}
	if id := a.Session(request(cookie)).ID; id == "" || id == a.Session(request(other)).ID {
		t.Fatalf("session ids %q and %q: want distinct and non-empty", id, a.Session(request(other)).ID)
	}
	id := a.Session(request(cookie)).ID
	clear, rev := a.Logout(request(cookie))
	if rev == nil || rev.ID != id || clear.MaxAge >= 0 || rev.ID == cookie.Value || !rev.Expires.Equal(cookie.Expires.Truncate(time.Second)) {
		t.Fatalf("logout: cookie %+v revocation %+v", clear, rev)
	}
	if a.Session(request(cookie)) != nil {
		t.Fatal("the replayed cookie is accepted after logout on the same server")
	}
	b.Revoke(*rev)
	if b.Session(request(cookie)) != nil {
		t.Fatal("the replayed cookie is accepted by a server that has the revocation")
	}
	if a.Session(request(other)) == nil {
		t.Fatal("logging out one session ended another of the same user")
	}
	if _, rev := a.Logout(request(cookie)); rev != nil {
		t.Fatal("a revoked cookie was revoked again")
	}
	c.add(13 * time.Hour) // past expiry the entry is dropped
	if a.isRevoked(cookie.Value) || a.revoked.Len() != 0 {
		t.Fatal("an expired revocation is kept")
	}
}

// TestPasswordChangeEndsSessions: a token carries a fingerprint of the
// password hash, so a server with the user's new hash refuses older
// tokens.
func TestPasswordChangeEndsSessions(t *testing.T) {
	c := newClock()
	a := testAuth(t, c, "operator")
	_, cookie, err := a.Login("10.0.0.1", "operator", "pw-operator")
	if err != nil {
		t.Fatal(err)
	}
	cfg := a.cfg
	cfg.Users = []User{{Username: "operator", Role: Admin, PasswordHash: hash(t, "a new password")}}
	b, err := New(cfg, c.now)
	if err != nil {
		t.Fatal(err)
	}
	if b.Session(request(cookie)) != nil {
		t.Fatal("a token issued before the password change is accepted after it")
	}
	same, _ := New(a.cfg, c.now)
	if same.Session(request(cookie)) == nil {
		t.Fatal("a restart with the same hash ended the session")
	}
}

// TestTry: a credential check other than a password (a wall's kiosk
// credential) counts against the same limits as logins: failures slow its
// (key, address) pair down, and a limited pair's check is not even run.
func TestTry(t *testing.T) {
	c := newClock()
	a := testAuth(t, c, "admin")
	ran := 0
	try := func(ip string, ok bool) int {
		err := a.Try(ip, "kiosk", func() bool { ran++; return ok })
		switch {
		case err == nil:
			return 200
		case errors.Is(err, ErrRateLimited):
			return 429
		}
		return 401
	}
	var got []int
	for range 7 {
		got = append(got, try("10.0.0.9", false))
	}
	if fmt.Sprint(got) != "[401 401 401 401 401 429 429]" || ran != 5 {
		t.Fatalf("7 wrong credentials: %v (checks run %d)", got, ran)
	}
	if got := try("10.0.0.10", true); got != 200 {
		t.Errorf("a right credential from another address: %d", got)
	}
	c.add(time.Minute)
	if got := try("10.0.0.9", true); got != 200 {
		t.Errorf("a right credential after the wait: %d", got)
	}
}

// TestKioskRoleNotForUsers: the kiosk role belongs to enrolled walls; a
// configured user with it is refused.
func TestKioskRoleNotForUsers(t *testing.T) {
	_, err := New(Config{Users: []User{{Username: "wall", Role: Kiosk, PasswordHash: hash(t, "pw-wall")}}}, nil)
	if err == nil {
		t.Fatal("a user with role kiosk was accepted")
	}
	if !Kiosk.Allows(Viewer) || Kiosk.Allows(Technician) {
		t.Error("a kiosk views as a viewer and does nothing more")
	}
}

// TestAccountsLogIn: a login that is not a user is looked up in the
// accounts (an integrator's data account): it logs in as its integrator
// only with the right password, its session lasts while the account is
// unchanged, and ends when the account's hash changes or it is gone. A
// user of the same name wins; only role integrator is taken.
func TestAccountsLogIn(t *testing.T) {
	a, err := New(Config{Users: []User{{Username: "admin", Role: Admin, PasswordHash: hash(t, "demo-admin")}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cur, role := "h1", Integrator
	a.SetAccounts(func(name string) (User, func(string) bool, bool) {
		if name != "antoan-tn" || cur == "" {
			return User{}, nil, false
		}
		return User{Username: name, Role: role, Integrator: "antoan-tn", PasswordHash: cur}, func(p string) bool { return p == "s3cret-"+cur }, true
	})
	if _, _, err := a.Login("10.0.0.1", "antoan-tn", "wrong"); err != ErrBadCredentials {
		t.Fatalf("a wrong secret: %v", err)
	}
	s, cookie, err := a.Login("10.0.0.1", "antoan-tn", "s3cret-h1")
	if err != nil || s.User.Role != Integrator || s.User.Integrator != "antoan-tn" {
		t.Fatalf("the account's login: %+v %v", s, err)
	}
	req := func() *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(cookie)
		return r
	}
	if a.Session(req()) == nil {
		t.Fatal("the account's session is not accepted")
	}
	cur = "h2" // the secret rotated
	if a.Session(req()) != nil {
		t.Error("the session outlived a rotated secret")
	}
	cur, role = "h1", Admin
	if a.Session(req()) != nil {
		t.Error("an account that is not an integrator's was accepted")
	}
	role, cur = Integrator, ""
	if a.Session(req()) != nil {
		t.Error("the session outlived its account")
	}
}
