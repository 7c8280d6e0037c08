// Package auth is the IOC server's users, roles and login sessions.
//
// Users come from configuration with bcrypt password hashes. A session is
// a signed cookie (HMAC-SHA256 over user, issue and expiry times, with the
// server's session secret), so any IOC server sharing the secret accepts
// it and none keeps session state; the user is looked up on every request,
// so removing a user or changing their role takes effect at once. State-
// changing requests need the session's CSRF token in a header, and the
// cookie is SameSite=Strict and HttpOnly. Logins are rate-limited per
// client address and per username.
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
	"time"

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
)

func (r Role) rank() int {
	switch r {
	case Viewer:
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
func (r Role) Allows(need Role) bool { return r.rank() > 0 && r.rank() >= need.rank() }

// User is one account.
type User struct {
	Username string `yaml:"username" json:"username"`
	Name     string `yaml:"name" json:"name"`
	Role     Role   `yaml:"role" json:"role"`
	// PasswordHash is bcrypt: make one with `ioc hash-password`.
	PasswordHash string `yaml:"password_hash" json:"-"`
}

// Config is the users and session settings.
type Config struct {
	Users []User `yaml:"users"`
	// SessionSecret signs session cookies: at least 32 bytes, the same on
	// every IOC server behind one load balancer. Empty: a random secret
	// per process (sessions end when it restarts).
	SessionSecret string        `yaml:"session_secret"`
	SessionTTL    time.Duration `yaml:"session_ttl"`
	// SecureCookie marks the cookie Secure: set it when serving over HTTPS
	// (directly or behind a TLS-terminating proxy).
	SecureCookie bool `yaml:"secure_cookie"`
	// LoginRate is the logins a minute allowed per client address and per
	// username, after a burst of LoginBurst.
	LoginRate  float64 `yaml:"login_rate"`
	LoginBurst int     `yaml:"login_burst"`
}

// CookieName is the session cookie.
const CookieName = "ioc_session"

// CSRFHeader carries the session's CSRF token on state-changing requests.
const CSRFHeader = "X-CSRF-Token"

// Session is an authenticated request's user.
type Session struct {
	User    User
	Issued  time.Time
	Expires time.Time
	// CSRF is the token state-changing requests must carry.
	CSRF string
}

// Auth checks passwords and sessions.
type Auth struct {
	cfg    Config
	users  map[string]User
	secret []byte
	now    func() time.Time

	mu     sync.Mutex
	limits map[string]*limiter // "ip:" or "user:" + key
	dummy  []byte
}

type limiter struct {
	l    *rate.Limiter
	seen time.Time
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
	a := &Auth{cfg: cfg, users: map[string]User{}, now: now, limits: map[string]*limiter{}}
	var errs []error
	for i, u := range cfg.Users {
		switch {
		case u.Username == "" || len(u.Username) > 64 || strings.ContainsAny(u.Username, " \t\r\n:"):
			errs = append(errs, fmt.Errorf("users[%d]: username %q: 1-64 characters, no spaces or colons", i, u.Username))
		case u.Role.rank() == 0:
			errs = append(errs, fmt.Errorf("users[%d] %s: role %q: use viewer, technician, operator or admin", i, u.Username, u.Role))
		case !strings.HasPrefix(u.PasswordHash, "$2"):
			errs = append(errs, fmt.Errorf("users[%d] %s: password_hash is not a bcrypt hash (make one with `ioc hash-password`)", i, u.Username))
		}
		if _, dup := a.users[u.Username]; dup {
			errs = append(errs, fmt.Errorf("users[%d]: %s appears twice", i, u.Username))
		}
		a.users[u.Username] = u
	}
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
// they match, returns a new session and its cookie.
func (a *Auth) Login(ip, username, password string) (*Session, *http.Cookie, error) {
	if !a.allow("ip:"+ip) || !a.allow("user:"+username) {
		return nil, nil, ErrRateLimited
	}
	u, ok := a.users[username]
	hash := []byte(u.PasswordHash)
	if !ok {
		hash = a.dummy
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || !ok {
		return nil, nil, ErrBadCredentials
	}
	now := a.now()
	s := &Session{User: u, Issued: now, Expires: now.Add(a.cfg.SessionTTL)}
	token := a.sign(username, now, s.Expires)
	s.CSRF = a.csrf(token)
	return s, a.cookie(token, s.Expires), nil
}

// Logout returns a cookie that clears the session in the browser.
func (a *Auth) Logout() *http.Cookie {
	c := a.cookie("", time.Unix(0, 0))
	c.MaxAge = -1
	return c
}

func (a *Auth) cookie(value string, expires time.Time) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: value, Path: "/", Expires: expires, HttpOnly: true,
		Secure: a.cfg.SecureCookie, SameSite: http.SameSiteStrictMode}
}

// Session returns the request's session, or nil when it has none that is
// valid (missing, forged, expired, or its user removed).
func (a *Auth) Session(r *http.Request) *Session {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" || len(c.Value) > 512 {
		return nil
	}
	user, issued, expires, ok := a.verify(c.Value)
	if !ok || !a.now().Before(expires) {
		return nil
	}
	u, ok := a.users[user]
	if !ok {
		return nil
	}
	return &Session{User: u, Issued: issued, Expires: expires, CSRF: a.csrf(c.Value)}
}

// CheckCSRF reports whether a state-changing request carries its session's
// CSRF token.
func (a *Auth) CheckCSRF(r *http.Request, s *Session) bool {
	got := r.Header.Get(CSRFHeader)
	return got != "" && hmac.Equal([]byte(got), []byte(s.CSRF))
}

// token: base64url(user) "." issued "." expires (unix seconds, base64url
// of 8 bytes each) "." base64url(HMAC-SHA256 of the rest).
func (a *Auth) sign(user string, issued, expires time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(issued.Unix()))
	binary.BigEndian.PutUint64(b[8:], uint64(expires.Unix()))
	body := base64.RawURLEncoding.EncodeToString([]byte(user)) + "." + base64.RawURLEncoding.EncodeToString(b[:])
	return body + "." + base64.RawURLEncoding.EncodeToString(a.mac("session", body))
}

func (a *Auth) verify(token string) (user string, issued, expires time.Time, ok bool) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return "", time.Time{}, time.Time{}, false
	}
	body, sig := token[:i], token[i+1:]
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, a.mac("session", body)) {
		return "", time.Time{}, time.Time{}, false
	}
	u, ts, found := strings.Cut(body, ".")
	ub, err1 := base64.RawURLEncoding.DecodeString(u)
	tb, err2 := base64.RawURLEncoding.DecodeString(ts)
	if !found || err1 != nil || err2 != nil || len(tb) != 16 {
		return "", time.Time{}, time.Time{}, false
	}
	issued = time.Unix(int64(binary.BigEndian.Uint64(tb[:8])), 0)
	expires = time.Unix(int64(binary.BigEndian.Uint64(tb[8:])), 0)
	return string(ub), issued, expires, true
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

// maxLimiters bounds the rate limiter table; beyond it, limiters idle for
// ten minutes are dropped.
const maxLimiters = 10000

func (a *Auth) allow(key string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	l := a.limits[key]
	if l == nil {
		if len(a.limits) >= maxLimiters {
			for k, v := range a.limits {
				if now.Sub(v.seen) > 10*time.Minute {
					delete(a.limits, k)
				}
			}
			if len(a.limits) >= maxLimiters {
				return false // under attack from many addresses: refuse until some idle out
			}
		}
		l = &limiter{l: rate.NewLimiter(rate.Limit(a.cfg.LoginRate/60), a.cfg.LoginBurst)}
		a.limits[key] = l
	}
	l.seen = now
	return l.l.AllowN(now, 1)
}
