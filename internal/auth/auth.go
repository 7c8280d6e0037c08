// Package auth is the IOC server's users, roles and login sessions.
//
// Users come from configuration with bcrypt password hashes. A session is
// a signed cookie (HMAC-SHA256 over user, issue and expiry times, with the
// server's session secret), so any IOC server sharing the secret accepts
// it and none keeps session state; the user is looked up on every request,
// so removing a user or changing their role takes effect at once. State-
// changing requests need the session's CSRF token in a header, and the
// cookie is SameSite=Strict and HttpOnly.
//
// A token carries a fingerprint of its user's password hash, so changing
// a password (a new hash in the configuration, then a restart) ends that
// user's sessions on every server. Logging out revokes the token: the
// server that took the logout adds it to its revocation list and hands the
// Revocation to the caller, who shares it with the other servers (iocd
// does so over the broker), so a copied cookie is refused everywhere.
//
// Failed logins slow down the (username, client address) pair that made
// them: LoginBurst failures are free, then each further failure doubles
// the wait before the next try. Locking a user out everywhere would let
// anyone lock out the administrator, so the username alone is never
// limited. A client address also has a larger budget of failures across
// all usernames (username spraying). A successful login costs nothing and
// clears its pair's failures.
package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/time/rate"
)

// Role is what a user may do.
type Role string

// Roles, from least to most allowed.
const (
	Viewer     Role = "viewer"     // sees the wall, devices, alerts and history
	Technician Role = "technician" // also acknowledges and resolves alerts
	Operator   Role = "operator"   // also opens and ends maintenance windows
	Admin      Role = "admin"      // also reads the audit log
	// Integrator is outside that order: it sees only its own
	// integrator's devices, their stored data and refusals, on its own
	// page and routes, and none of the wall, alerts or commands.
	Integrator Role = "integrator"
	// Kiosk is an enrolled wall's (internal/kiosk), never a user's: it
	// views what a viewer views and changes nothing.
	Kiosk Role = "kiosk"
)

func (r Role) rank() int {
	switch r {
	case Viewer, Kiosk:
		return 1
	case Technician:
		return 2
	case Operator:
		return 3
	case Admin:
		return 4
	}
	return 0
}

// Allows reports whether a user with role r may do what needs role need.
// The integrator role allows only what needs it, and nothing else does.
func (r Role) Allows(need Role) bool {
	if r == Integrator || need == Integrator {
		return r == need
	}
	return r.rank() > 0 && r.rank() >= need.rank()
}

func (r Role) valid() bool { return r == Integrator || r.rank() > 0 }

// User is one account.
type User struct {
	Username string `yaml:"username" json:"username"`
	Name     string `yaml:"name" json:"name"`
	Role     Role   `yaml:"role" json:"role"`
	// Integrator is the integrator (registry id) whose devices a user of
	// role integrator sees; only that role has one.
	Integrator string `yaml:"integrator,omitempty" json:"integrator,omitempty"`
	// PasswordHash is bcrypt: make one with `ioc user-password-hash`.
	PasswordHash string `yaml:"password_hash" json:"-"`
}

// Config is the users and session settings.
type Config struct {
	Users []User `yaml:"users"`
	// Teams are the groups alerts are dispatched to (teams.go).
	Teams []Team `yaml:"teams"`
	// SessionSecret signs session cookies: at least 32 bytes, the same on
	// every IOC server behind one load balancer. Empty: a random secret
	// per process (sessions end when it restarts).
	SessionSecret string        `yaml:"session_secret"`
	SessionTTL    time.Duration `yaml:"session_ttl"`
	// SecureCookie marks the cookie Secure: set it when serving over HTTPS
	// (directly or behind a TLS-terminating proxy).
	SecureCookie bool `yaml:"secure_cookie"`
	// LoginBurst is the failed logins a (username, client address) pair
	// may make freely; after it, the pair waits 60/LoginRate seconds
	// before its next try, twice as long after each further failure, up to
	// LoginMaxDelay. The defaults (10, 5, 15m) give an attacker about 100
	// guesses a day per pair and the real user, from their own address,
	// no wait at all.
	LoginRate     float64       `yaml:"login_rate"`
	LoginBurst    int           `yaml:"login_burst"`
	LoginMaxDelay time.Duration `yaml:"login_max_delay"`
	// LoginAddressBurst is the failed logins one client address may make
	// across all usernames before it is limited to LoginRate failures a
	// minute. It is larger than LoginBurst so that one user's typos do not
	// stop another user behind the same address.
	LoginAddressBurst int `yaml:"login_address_burst"`
}

// CookieName is the session cookie.
const CookieName = "ioc_session"

// KioskCookieName carries an enrolled wall's credential (internal/kiosk).
const KioskCookieName = "ioc_kiosk"

// CSRFHeader carries the session's CSRF token on state-changing requests.
const CSRFHeader = "X-CSRF-Token"

// Session is an authenticated request's user.
type Session struct {
	User    User
	Issued  time.Time
	Expires time.Time
	// CSRF is the token state-changing requests must carry.
	CSRF string
	// ID names the session without being its token: a login's
	// Revocation.ID, or "kiosk:<id>" for an enrolled wall. Live streams
	// are closed by it when the session is revoked.
	ID string
	// Kiosk is the enrolled wall's id; empty for a person.
	Kiosk string
}

// Auth checks passwords and sessions.
type Auth struct {
	cfg    Config
	users  map[string]User
	secret []byte
	now    func() time.Time

	mu      sync.Mutex
	pairs   *lru.Cache[string, *failures]     // username + "\x00" + address
	addrs   *lru.Cache[string, *rate.Limiter] // client address
	revoked *lru.Cache[string, time.Time]     // token id -> token expiry
	dummy   []byte
	// accounts, if set, answers the usernames that are not users: an
	// integrator's data account logging in to its own page.
	accounts atomic.Pointer[Accounts]
}

// Accounts finds a login that is not in the users (an integrator's data
// account, from the credentials file): the user it is, and a check of
// its password. ok is false for an unknown or disabled account.
type Accounts func(username string) (u User, check func(password string) bool, ok bool)

// SetAccounts sets (or, with nil, clears) where logins that are not
// users are looked up. A user of the same name wins.
func (a *Auth) SetAccounts(f Accounts) {
	if f == nil {
		a.accounts.Store(nil)
		return
	}
	a.accounts.Store(&f)
}

// user looks username up in the users, then in the accounts.
func (a *Auth) user(username string) (User, func(string) bool, bool) {
	if u, ok := a.users[username]; ok {
		return u, func(p string) bool { return bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(p)) == nil }, true
	}
	if f := a.accounts.Load(); f != nil {
		if u, check, ok := (*f)(username); ok && u.Role == Integrator && u.Integrator != "" {
			return u, check, true
		}
	}
	return User{}, nil, false
}

// failures is a (username, address) pair's failed logins.
type failures struct {
	n     int
	last  time.Time
	until time.Time // no try before
}

// Errors from Login.
var (
	ErrBadCredentials = errors.New("auth: wrong username or password")
	ErrRateLimited    = errors.New("auth: too many login attempts; wait a minute")
)

// New validates cfg and builds the checker. now may be nil.
func New(cfg Config, now func() time.Time) (*Auth, error) {
	if now == nil {
		now = time.Now
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.LoginRate <= 0 {
		cfg.LoginRate = 10
	}
	if cfg.LoginBurst <= 0 {
		cfg.LoginBurst = 5
	}
	if cfg.LoginMaxDelay <= 0 {
		cfg.LoginMaxDelay = 15 * time.Minute
	}
	if cfg.LoginAddressBurst <= 0 {
		cfg.LoginAddressBurst = 30
	}
	a := &Auth{cfg: cfg, users: map[string]User{}, now: now}
	// Bounded tables (an LRU drops the least recently used entry): a
	// flood of addresses or usernames costs memory up to these sizes.
	a.pairs, _ = lru.New[string, *failures](maxLimiters)
	a.addrs, _ = lru.New[string, *rate.Limiter](maxLimiters)
	a.revoked, _ = lru.New[string, time.Time](maxRevoked)
	var errs []error
	for i, u := range cfg.Users {
		switch {
		case u.Username == "" || len(u.Username) > 64 || strings.ContainsAny(u.Username, " \t\r\n:"):
			errs = append(errs, fmt.Errorf("users[%d]: username %q: 1-64 characters, no spaces or colons", i, u.Username))
		case !u.Role.valid() || u.Role == Kiosk:
			errs = append(errs, fmt.Errorf("users[%d] %s: role %q: use viewer, technician, operator, admin or integrator (walls are enrolled as kiosks by an admin)", i, u.Username, u.Role))
		case u.Role == Integrator && u.Integrator == "":
			errs = append(errs, fmt.Errorf("users[%d] %s: role integrator needs integrator: <the integrator's id in the device registry>", i, u.Username))
		case u.Role != Integrator && u.Integrator != "":
			errs = append(errs, fmt.Errorf("users[%d] %s: integrator: is for role integrator only", i, u.Username))
		case !strings.HasPrefix(u.PasswordHash, "$2"):
			errs = append(errs, fmt.Errorf("users[%d] %s: password_hash is not a bcrypt hash (make one with `ioc user-password-hash`)", i, u.Username))
		}
		if _, dup := a.users[u.Username]; dup {
			errs = append(errs, fmt.Errorf("users[%d]: %s appears twice", i, u.Username))
		}
		a.users[u.Username] = u
	}
	errs = append(errs, checkTeams(cfg.Teams, a.users)...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.SessionSecret != "" {
		if len(cfg.SessionSecret) < 32 {
			return nil, errors.New("session_secret: use at least 32 characters")
		}
		a.secret = []byte(cfg.SessionSecret)
	} else {
		a.secret = make([]byte, 32)
		_, _ = rand.Read(a.secret)
	}
	// A hash to compare against for unknown users, so that a login's
	// timing does not tell whether the username exists.
	a.dummy, _ = bcrypt.GenerateFromPassword([]byte("not a password"), bcrypt.DefaultCost)
	return a, nil
}

// HashPassword returns the bcrypt hash of a password for the users file.
func HashPassword(password string) (string, error) {
	if len(password) < 8 {
		return "", errors.New("a password needs at least 8 characters")
	}
	b, err := bcrypt.GenerateFromPassword([]byte(password), 12)
	return string(b), err
}

// CheckPassword reports whether password matches a bcrypt hash.
func CheckPassword(hash, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// Login checks a username and password from client address ip and, when
// they match, returns a new session and its cookie. Only failures count
// against the limits.
func (a *Auth) Login(ip, username, password string) (*Session, *http.Cookie, error) {
	now := a.now()
	pair := username + "\x00" + ip
	if !a.mayTry(pair, ip, now) {
		return nil, nil, ErrRateLimited
	}
	u, check, ok := a.user(username)
	if !ok {
		// The same work as a known user's check, so that the timing does
		// not tell whether the username exists.
		check = func(p string) bool {
			_ = bcrypt.CompareHashAndPassword(a.dummy, []byte(p))
			return false
		}
	}
	if !check(password) || !ok {
		a.failed(pair, ip, now)
		return nil, nil, ErrBadCredentials
	}
	a.pairs.Remove(pair)
	s := &Session{User: u, Issued: now, Expires: now.Add(a.cfg.SessionTTL)}
	token := a.sign(username, a.fingerprint(u), now, s.Expires)
	s.CSRF, s.ID = a.csrf(token), tokenID(token)
	return s, a.cookie(token, s.Expires), nil
}

// Try runs check, a credential check other than a password (an enrolled
// wall's credential), under the login limits of the pair (key, ip): it
// returns ErrRateLimited without calling check while the pair or address
// must wait, ErrBadCredentials when check fails (counted), nil when it
// passes.
func (a *Auth) Try(ip, key string, check func() bool) error {
	now := a.now()
	pair := key + "\x00" + ip
	if !a.mayTry(pair, ip, now) {
		return ErrRateLimited
	}
	if !check() {
		a.failed(pair, ip, now)
		return ErrBadCredentials
	}
	return nil
}

// Revocation is a logged-out token, refused until it would have expired.
type Revocation struct {
	// ID names the token without being it (a hash), so a revocation can be
	// published without handing out a usable cookie.
	ID      string    `json:"id"`
	Expires time.Time `json:"expires"`
}

// Logout revokes the request's session token, if it has a valid one, and
// returns a cookie that clears it in the browser, and the revocation to
// share with the other servers (nil without a valid session).
func (a *Auth) Logout(r *http.Request) (*http.Cookie, *Revocation) {
	c := a.cookie("", time.Unix(0, 0))
	c.MaxAge = -1
	old, err := r.Cookie(CookieName)
	if err != nil || a.Session(r) == nil {
		return c, nil
	}
	_, _, _, expires, _ := a.verify(old.Value)
	rev := &Revocation{ID: tokenID(old.Value), Expires: expires}
	a.Revoke(*rev)
	return c, rev
}

// Revoke refuses a token from now until its expiry. The list keeps the
// most recent maxRevoked revocations.
func (a *Auth) Revoke(r Revocation) {
	if r.ID == "" || !a.now().Before(r.Expires) {
		return
	}
	a.revoked.Add(r.ID, r.Expires)
}

func (a *Auth) isRevoked(token string) bool {
	id := tokenID(token)
	exp, ok := a.revoked.Peek(id)
	if ok && !a.now().Before(exp) {
		a.revoked.Remove(id)
		return false
	}
	return ok
}

func tokenID(token string) string {
	h := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(h[:18])
}

// KioskCookie is the cookie that carries an enrolled wall's credential,
// with the session cookie's flags (HttpOnly, SameSite=Strict, Secure as
// configured).
func (a *Auth) KioskCookie(value string, expires time.Time) *http.Cookie {
	c := a.cookie(value, expires)
	c.Name = KioskCookieName
	return c
}

func (a *Auth) cookie(value string, expires time.Time) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: value, Path: "/", Expires: expires, HttpOnly: true,
		Secure: a.cfg.SecureCookie, SameSite: http.SameSiteStrictMode}
}

// Session returns the request's session, or nil when it has none that is
// valid (missing, forged, expired, revoked, its user removed, or the
// user's password changed since it was issued).
func (a *Auth) Session(r *http.Request) *Session {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" || len(c.Value) > 512 {
		return nil
	}
	user, fp, issued, expires, ok := a.verify(c.Value)
	if !ok || !a.now().Before(expires) {
		return nil
	}
	u, _, ok := a.user(user)
	if !ok || !hmac.Equal(fp, a.fingerprint(u)) || a.isRevoked(c.Value) {
		return nil
	}
	return &Session{User: u, Issued: issued, Expires: expires, CSRF: a.csrf(c.Value), ID: tokenID(c.Value)}
}

// CheckCSRF reports whether a state-changing request carries its session's
// CSRF token.
func (a *Auth) CheckCSRF(r *http.Request, s *Session) bool {
	got := r.Header.Get(CSRFHeader)
	return got != "" && hmac.Equal([]byte(got), []byte(s.CSRF))
}

// token: base64url(user) "." base64url(issued, expires (unix seconds, 8
// bytes each), the password fingerprint (8 bytes) and a random nonce (8
// bytes, so that two logins in one second can be revoked apart)) "."
// base64url(HMAC-SHA256 of the rest).
func (a *Auth) sign(user string, fp []byte, issued, expires time.Time) string {
	var b [tokenLen]byte
	binary.BigEndian.PutUint64(b[:8], uint64(issued.Unix()))
	binary.BigEndian.PutUint64(b[8:16], uint64(expires.Unix()))
	copy(b[16:16+fpLen], fp)
	_, _ = rand.Read(b[16+fpLen:])
	body := base64.RawURLEncoding.EncodeToString([]byte(user)) + "." + base64.RawURLEncoding.EncodeToString(b[:])
	return body + "." + base64.RawURLEncoding.EncodeToString(a.mac("session", body))
}

func (a *Auth) verify(token string) (user string, fp []byte, issued, expires time.Time, ok bool) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return "", nil, time.Time{}, time.Time{}, false
	}
	body, sig := token[:i], token[i+1:]
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, a.mac("session", body)) {
		return "", nil, time.Time{}, time.Time{}, false
	}
	u, ts, found := strings.Cut(body, ".")
	ub, err1 := base64.RawURLEncoding.DecodeString(u)
	tb, err2 := base64.RawURLEncoding.DecodeString(ts)
	if !found || err1 != nil || err2 != nil || len(tb) != tokenLen {
		return "", nil, time.Time{}, time.Time{}, false
	}
	issued = time.Unix(int64(binary.BigEndian.Uint64(tb[:8])), 0)
	expires = time.Unix(int64(binary.BigEndian.Uint64(tb[8:16])), 0)
	return string(ub), tb[16 : 16+fpLen], issued, expires, true
}

// fpLen is the bytes of the password fingerprint in a token; tokenLen
// the bytes of its times, fingerprint and nonce.
const (
	fpLen    = 8
	tokenLen = 16 + fpLen + 8
)

// fingerprint identifies the user's current password hash without
// revealing it: a new hash makes every older token invalid.
func (a *Auth) fingerprint(u User) []byte {
	return a.mac("password", u.Username+"\x00"+u.PasswordHash)[:fpLen]
}

func (a *Auth) csrf(token string) string {
	return base64.RawURLEncoding.EncodeToString(a.mac("csrf", token))
}

func (a *Auth) mac(purpose, msg string) []byte {
	h := hmac.New(sha256.New, a.secret)
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// maxLimiters bounds each login limit table; maxRevoked the revocation
// list (a day of logouts on a large centre is a few thousand).
const (
	maxLimiters = 10000
	maxRevoked  = 100000
)

// mayTry reports whether a login may be checked now: the pair is not
// waiting, and the address has a failure left to spend.
func (a *Auth) mayTry(pair, ip string, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if f, ok := a.pairs.Get(pair); ok && now.Before(f.until) {
		return false
	}
	if l, ok := a.addrs.Get(ip); ok && l.TokensAt(now) < 1 {
		return false
	}
	return true
}

// failed counts a failed login against its pair and its address.
func (a *Auth) failed(pair, ip string, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f, ok := a.pairs.Get(pair)
	if !ok || now.Sub(f.last) > 2*a.cfg.LoginMaxDelay {
		f = &failures{} // quiet for long enough: start afresh
		a.pairs.Add(pair, f)
	}
	f.n++
	f.last = now
	if over := f.n - a.cfg.LoginBurst; over >= 0 {
		wait := time.Duration(float64(time.Minute) / a.cfg.LoginRate)
		for i := 0; i < over && wait < a.cfg.LoginMaxDelay; i++ {
			wait *= 2
		}
		f.until = now.Add(min(wait, a.cfg.LoginMaxDelay))
	}
	l, ok := a.addrs.Get(ip)
	if !ok {
		l = rate.NewLimiter(rate.Limit(a.cfg.LoginRate/60), a.cfg.LoginAddressBurst)
		a.addrs.Add(ip, l)
	}
	l.AllowN(now, 1)
}
