package iocd_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
	"github.com/ioc-vn/ioc/internal/api"
	"github.com/ioc-vn/ioc/internal/iocd"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// enrolled is POST /api/v1/admin/kiosks's answer.
type enrolled struct {
	Kiosk struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		CreatedBy string `json:"created_by"`
	} `json:"kiosk"`
	Credential string `json:"credential"`
	Link       string `json:"link"`
}

func enrol(t testing.TB, admin *user, name string) enrolled {
	t.Helper()
	status, body := admin.do("POST", "/api/v1/admin/kiosks", map[string]string{"name": name})
	if status != 201 {
		t.Fatalf("enrol %q: %d %s", name, status, body)
	}
	var e enrolled
	if err := json.Unmarshal(body, &e); err != nil || e.Kiosk.Name != name || e.Kiosk.CreatedBy != "admin" || e.Link != "/wall/#kiosk="+e.Credential {
		t.Fatalf("enrolment %s: %v", body, err)
	}
	return e
}

// wall is a client that has exchanged a kiosk credential for its cookie;
// its status is the exchange's.
func wall(t testing.TB, base, credential string) (*user, int) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	u := &user{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	status, body := u.do("POST", "/api/v1/kiosk/session", map[string]string{"credential": credential})
	if status == 200 {
		var s struct {
			Role, Kiosk, CSRF string
		}
		if err := json.Unmarshal(body, &s); err != nil || s.Role != "kiosk" || s.Kiosk == "" {
			t.Fatalf("kiosk session %s", body)
		}
		u.csrf = s.CSRF
	}
	return u, status
}

// pathFor fills a route's path parameters with values that exist.
func pathFor(route string) (method, path string) {
	method, path, _ = strings.Cut(route, " ")
	r := strings.NewReplacer("{rule}", "device-offline", "{device}", "cam-bvtw-01", "{id}", "cam-bvtw-01", "{target}", "device:cam-bvtw-01")
	return method, r.Replace(path)
}

// TestKioskViewsOnly: an admin enrols a wall on server A; its credential,
// shared through the broker, turns into a kiosk session on A and on B
// that reads everything the wall needs and opens the stream, and is
// refused (403) on every route that changes state or is not a viewer's.
// Revoking it on A closes its streams on both servers at once and every
// further request is 401, also on a server started after the revocation.
// Enrolment, use and revocation are audited.
func TestKioskViewsOnly(t *testing.T) {
	sys := startIngest(t)
	baseA := startIOC(t, iocConfig(t, sys, "kiosk-a"))
	baseB := startIOC(t, iocConfig(t, sys, "kiosk-b"))
	admin := login(t, baseA, "admin")
	for _, who := range []string{"operator", "viewer"} {
		if status, _ := login(t, baseA, who).do("POST", "/api/v1/admin/kiosks", map[string]string{"name": "x"}); status != 403 {
			t.Errorf("%s enrolling a wall: %d, want 403", who, status)
		}
	}
	if status, _ := admin.do("POST", "/api/v1/admin/kiosks", map[string]string{"name": strings.Repeat("x", 65)}); status != 400 {
		t.Errorf("a 65-character name: %d, want 400", status)
	}
	e := enrol(t, admin, "Tường chính phòng trực")
	if _, status := wall(t, baseA, e.Credential+"x"); status != 401 {
		t.Errorf("a wrong credential: %d, want 401", status)
	}
	kA, status := wall(t, baseA, e.Credential)
	if status != 200 {
		t.Fatalf("the wall's credential on A: %d", status)
	}
	var kB *user
	testenv.Eventually(t, 10*time.Second, func() error {
		if kB, status = wall(t, baseB, e.Credential); status != 200 {
			return fmt.Errorf("the credential enrolled on A, on B: %d", status)
		}
		return nil
	})

	for _, p := range []string{"/api/v1/session", "/api/v1/province", "/api/v1/devices", "/api/v1/devices/cam-bvtw-01",
		"/api/v1/devices/cam-bvtw-01/history", "/api/v1/alerts", "/api/v1/alerts/history?device=cam-bvtw-01", "/wall/"} {
		if status, body := kA.do("GET", p, nil); status != 200 {
			t.Errorf("the wall reading %s: %d %s", p, status, body)
		}
	}
	// Every route that changes state, and every admin route, refuses it,
	// with or without the CSRF header a person's page would send.
	for _, route := range api.Routes {
		method, path := pathFor(route)
		if route == "POST /api/v1/login" || route == "POST /api/v1/kiosk/session" {
			continue // a person's login, and this exchange: no session needed
		}
		if method == "GET" && !strings.Contains(path, "/admin/") && path != "/api/v1/audit" {
			continue
		}
		var body any
		if method == "POST" {
			body = map[string]any{"note": "thử", "name": "x", "target": "device:cam-bvtw-01", "until": time.Now().Add(time.Hour)}
		}
		for _, csrf := range []string{kA.csrf, "forged"} {
			if status, b := kA.do(method, path, body, "X-CSRF-Token", csrf); status != 403 {
				t.Errorf("the wall: %s (X-CSRF-Token %q): %d %s, want 403", route, csrf, status, b)
			}
		}
	}
	if status, _ := kA.do("GET", "/metrics", nil); status != 401 {
		t.Errorf("the wall reading /metrics: %d, want 401", status)
	}

	streamA, err := kA.dial("")
	if err != nil {
		t.Fatal(err)
	}
	streamB, err := kB.dial("")
	if err != nil {
		t.Fatal(err)
	}
	rA, rB := read(t, streamA), read(t, streamB)
	for _, r := range []*reader{rA, rB} {
		r.wait(t, 10*time.Second, func(f *frame) bool { return f.Type == "snapshot" })
	}

	if status, body := admin.do("DELETE", "/api/v1/admin/kiosks/"+e.Kiosk.ID, nil); status != 200 || !strings.Contains(string(body), `"revoked_by":"admin"`) {
		t.Fatalf("revoke: %d %s", status, body)
	}
	// A's stream is closed by the time the DELETE answers; B's within the
	// broker's delivery.
	if err := closedWith(rA, 0); err != nil {
		t.Errorf("the wall's stream on A after the revocation: %v", err)
	}
	testenv.Eventually(t, 10*time.Second, func() error { return closedWith(rB, 0) })
	for _, k := range []*user{kA, kB} {
		testenv.Eventually(t, 10*time.Second, func() error {
			if status, _ := k.do("GET", "/api/v1/session", nil); status != 401 {
				return fmt.Errorf("the revoked wall on %s: %d, want 401", k.base, status)
			}
			return nil
		})
	}
	if _, err := kA.dial(""); err == nil {
		t.Error("the revoked wall opened a stream")
	}
	if _, status := wall(t, startIOC(t, iocConfig(t, sys, "kiosk-c")), e.Credential); status != 401 {
		t.Errorf("the revoked credential on a server started after the revocation: %d, want 401", status)
	}
	if status, _ := admin.do("DELETE", "/api/v1/admin/kiosks/"+e.Kiosk.ID, nil); status != 404 {
		t.Errorf("revoking twice: %d, want 404", status)
	}

	var list struct {
		Kiosks []struct {
			ID, Name             string
			RevokedBy            string    `json:"revoked_by"`
			LastUsed             time.Time `json:"last_used"`
			CreatedAt, RevokedAt time.Time
		}
	}
	admin.get("/api/v1/admin/kiosks", &list)
	if len(list.Kiosks) != 1 || list.Kiosks[0].RevokedBy != "admin" || list.Kiosks[0].LastUsed.IsZero() {
		t.Errorf("kiosk list after the revocation: %+v", list.Kiosks)
	}
	var audit struct {
		Entries []struct{ Action, User, Target, Result string }
	}
	admin.get("/api/v1/audit", &audit)
	got := map[string]string{}
	for _, a := range audit.Entries {
		got[a.Action] = a.User + " " + a.Target + " " + a.Result
	}
	target := "kiosk:" + e.Kiosk.ID
	for action, want := range map[string]string{"kiosk_enrol": "admin " + target + " ok", "kiosk_login": target + " " + target + " ",
		"kiosk_login_failed": "  ", "kiosk_revoke": "admin " + target + " ok; 1 live connections closed here"} {
		if got[action] != want {
			t.Errorf("audit %s: %q, want %q", action, got[action], want)
		}
	}
}

// closedWith reports nil when the stream was closed by the server with
// 1008 "session ended" (code 0: any close frame).
func closedWith(r *reader, _ int) error {
	r.mu.Lock()
	err := r.err
	r.mu.Unlock()
	var ce *websocket.CloseError
	switch {
	case err == nil:
		return errors.New("still open")
	case !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || ce.Text != "session ended":
		return fmt.Errorf("ended with %v, want close 1008 \"session ended\"", err)
	}
	return nil
}

// serverClock is the server's clock, moved by the test.
type serverClock struct {
	mu sync.Mutex
	at time.Time
}

func (c *serverClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

func (c *serverClock) add(d time.Duration) {
	c.mu.Lock()
	c.at = c.at.Add(d)
	c.mu.Unlock()
}

// TestKioskWallInChromium: an admin enrols a wall on the admin page (in
// Vietnamese, no English word on it) and gets its link once; the wall's
// browser opens the link and shows the wall, without the code in the
// address bar or a logout button. 13 hours later on the server's clock,
// past a person's 12-hour session (an operator's is refused), the wall
// reloaded is still the wall, connected, with no login card and no
// English. Revoked on the admin page, the wall is disconnected at once
// and its next check finds it logged out.
func TestKioskWallInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	sys := startIngest(t)
	clk := &serverClock{at: time.Now()}
	_, base := startIOCWith(t, iocConfig(t, sys, "kiosk-wall"), iocd.Options{Now: clk.now})
	reg, err := registry.Load(configs + "devices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var prov struct{ People map[string]string }
	login(t, base, "viewer").get("/api/v1/province", &prov)
	raw := []string{"district:", "kiosk:", "operator", "technician", "admin"}
	for _, d := range reg.Districts() {
		raw = append(raw, d.ID)
	}

	adminPage := chrome(t, 1920, 1080)
	var dict map[string]map[string]string
	var js string
	loginPage(t, adminPage, base, "admin", "/admin/", `#kiosk-table`)
	run(t, adminPage, 5*time.Second, chromedp.Evaluate(`JSON.stringify(IOCDict)`, &js))
	if err := json.Unmarshal([]byte(js), &dict); err != nil {
		t.Fatal(err)
	}
	pageText := func(ctx context.Context) string {
		var s string
		run(t, ctx, 5*time.Second, chromedp.Evaluate(`document.title + "\n" + document.body.innerText`, &s))
		return s
	}
	const name = "Tường chính phòng trực"
	var link string
	run(t, adminPage, 15*time.Second,
		chromedp.SendKeys("#kiosk-name", name),
		chromedp.Click("#enrol-submit"),
		chromedp.WaitVisible(`#link-box`),
		chromedp.WaitVisible(`#kiosk-rows tr[data-state="active"]`),
		chromedp.Value("#kiosk-link", &link),
	)
	if !strings.HasPrefix(link, base+"/wall/#kiosk=") {
		t.Fatalf("kiosk link %q", link)
	}
	for _, l := range leaks(pageText(adminPage), "vi", dict, reg, prov.People, raw) {
		t.Errorf("Vietnamese admin page shows %s", l)
	}
	screenshot(t, adminPage, "admin-1920x1080-kiosk-enrolled")

	wallPage := chrome(t, 3840, 2160)
	onWall := func(when string) {
		t.Helper()
		var hash, path string
		var logins, logoutShown int
		run(t, wallPage, 20*time.Second,
			chromedp.WaitVisible(`body[data-connected="yes"]`),
			chromedp.Evaluate(`location.hash`, &hash),
			chromedp.Evaluate(`location.pathname`, &path),
			chromedp.Evaluate(`document.querySelectorAll("#username, form#login").length`, &logins),
			chromedp.Evaluate(`document.getElementById("logout").offsetParent ? 1 : 0`, &logoutShown),
		)
		if path != "/wall/" || hash != "" || logins != 0 || logoutShown != 0 {
			t.Errorf("%s: path %q, hash %q, login forms %d, logout button shown %d; want the wall, no code in the address, no login, no logout", when, path, hash, logins, logoutShown)
		}
		for _, l := range leaks(pageText(wallPage), "vi", dict, reg, prov.People, raw) {
			t.Errorf("%s: the Vietnamese wall shows %s", when, l)
		}
	}
	run(t, wallPage, 20*time.Second, chromedp.Navigate(link))
	onWall("opened with the kiosk link")

	operator := login(t, base, "operator")
	clk.add(13 * time.Hour)
	if status, _ := operator.do("GET", "/api/v1/session", nil); status != 401 {
		t.Fatalf("an operator's session 13 h later: %d, want 401 (the clock did not move?)", status)
	}
	run(t, wallPage, 20*time.Second, chromedp.Reload())
	onWall("reloaded 13 h later")
	screenshot(t, wallPage, "wall-3840x2160-kiosk")

	loginPage(t, adminPage, base, "admin", "/admin/", `#kiosk-rows tr[data-state="active"]`)
	run(t, adminPage, 15*time.Second,
		chromedp.Click(`#kiosk-rows tr[data-state="active"] button.revoke`),
		chromedp.WaitVisible(`#kiosk-rows tr[data-state="active"] button.confirm`),
	)
	for _, l := range leaks(pageText(adminPage), "vi", dict, reg, prov.People, raw) {
		t.Errorf("Vietnamese admin page asking to revoke shows %s", l)
	}
	run(t, adminPage, 15*time.Second,
		chromedp.Click(`#kiosk-rows tr[data-state="active"] button.confirm`),
		chromedp.WaitVisible(`#kiosk-rows tr[data-state="revoked"]`),
	)
	var state string
	run(t, adminPage, 5*time.Second, chromedp.Text(`#kiosk-rows tr[data-state="revoked"] .state`, &state))
	if !strings.HasPrefix(state, "Đã thu hồi lúc ") || !strings.HasSuffix(state, "bởi "+prov.People["admin"]) {
		t.Errorf("revoked row's state %q", state)
	}
	// The wall's stream is closed by the revocation; its reconnect finds
	// the session gone.
	run(t, wallPage, 20*time.Second, chromedp.WaitVisible(`#username`))
}
