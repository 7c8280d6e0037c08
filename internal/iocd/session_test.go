package iocd_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/auth"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// sessionStatus is GET /api/v1/session's status with only cookie.
func sessionStatus(t testing.TB, base string, cookie *http.Cookie) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/v1/session", nil)
	req.AddCookie(cookie)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	return r.StatusCode
}

func (u *user) cookie() *http.Cookie {
	b, _ := url.Parse(u.base)
	for _, c := range u.c.Jar.Cookies(b) {
		if c.Name == auth.CookieName {
			return c
		}
	}
	u.t.Fatal("no session cookie")
	return nil
}

// TestLogoutEverywhere is the security review's probe 231: a cookie
// replayed after logout is refused by the server that took the logout,
// by another IOC server sharing the secret, and by one started later.
func TestLogoutEverywhere(t *testing.T) {
	sys := startIngest(t)
	baseA := startIOC(t, iocConfig(t, sys, "a"))
	baseB := startIOC(t, iocConfig(t, sys, "b"))

	u := login(t, baseA, "viewer")
	stolen := u.cookie()
	other := login(t, baseA, "viewer").cookie()
	if a, b := sessionStatus(t, baseA, stolen), sessionStatus(t, baseB, stolen); a != 200 || b != 200 {
		t.Fatalf("before logout: %d on A, %d on B", a, b)
	}
	if status, body := u.do("POST", "/api/v1/logout", nil); status != 204 {
		t.Fatalf("logout: %d %s", status, body)
	}
	if got := sessionStatus(t, baseA, stolen); got != 401 {
		t.Errorf("replayed cookie on the same server after logout: %d, want 401", got)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if got := sessionStatus(t, baseB, stolen); got != 401 {
			return fmt.Errorf("replayed cookie on a second server after logout: %d, want 401", got)
		}
		return nil
	})
	if got := sessionStatus(t, startIOC(t, iocConfig(t, sys, "c")), stolen); got != 401 {
		t.Errorf("replayed cookie on a server started after the logout: %d, want 401", got)
	}
	if a, b := sessionStatus(t, baseA, other), sessionStatus(t, baseB, other); a != 200 || b != 200 {
		t.Errorf("the same user's other session: %d on A, %d on B, want 200", a, b)
	}
}

// TestPasswordChangeEndsSessions: a token issued before a user's password
// changes is refused after the server restarts with the new hash; other
// users' sessions go on.
func TestPasswordChangeEndsSessions(t *testing.T) {
	sys := startIngest(t)
	c := iocConfig(t, sys, "pw")
	stop, base := startIOCStoppable(t, c)
	operator := login(t, base, "operator").cookie()
	viewer := login(t, base, "viewer").cookie()
	stop()

	hash, err := auth.HashPassword("a new password for operator")
	if err != nil {
		t.Fatal(err)
	}
	for i := range c.Auth.Users {
		if c.Auth.Users[i].Username == "operator" {
			c.Auth.Users[i].PasswordHash = hash
		}
	}
	base = startIOC(t, c)
	if got := sessionStatus(t, base, operator); got != 401 {
		t.Errorf("operator's token from before the password change: %d, want 401", got)
	}
	if got := sessionStatus(t, base, viewer); got != 200 {
		t.Errorf("viewer's session across the restart: %d, want 200", got)
	}
}
