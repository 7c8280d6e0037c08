package access

import (
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// LimiterOptions bound password guessing. The zero value of a field means
// its default in DefaultLimiterOptions.
type LimiterOptions struct {
	// FreeFailures are the wrong passwords one address may send for one
	// username before it must wait; each further failure doubles the
	// wait, from BaseDelay up to MaxDelay. A device with a stale password
	// retries slower and slower, and its owner from elsewhere is not held.
	FreeFailures int
	BaseDelay    time.Duration
	MaxDelay     time.Duration
	// AddressBurst failures from one address (any usernames), then one
	// every AddressEvery: one address cannot try many accounts.
	AddressBurst int
	AddressEvery time.Duration
	// UserBurst failures for one username from addresses it has not
	// logged in from, then one every UserEvery: many addresses together
	// cannot try many passwords for one account. Addresses the account
	// logged in from within KnownFor are not held by this budget, so the
	// real user keeps working while the account is under attack.
	UserBurst int
	UserEvery time.Duration
	KnownFor  time.Duration
	// Entries bounds each table (pairs, addresses, usernames, known
	// logins); the least recently used entry is forgotten first.
	Entries int
}

// DefaultLimiterOptions suit devices that reconnect on their own: a wrong
// password costs seconds, then minutes; an address gets 20 wrong passwords
// and then one every 30 s; an account 50 from unknown addresses, then one
// every 10 s.
var DefaultLimiterOptions = LimiterOptions{
	FreeFailures: 3,
	BaseDelay:    time.Second,
	MaxDelay:     5 * time.Minute,
	AddressBurst: 20,
	AddressEvery: 30 * time.Second,
	UserBurst:    50,
	UserEvery:    10 * time.Second,
	KnownFor:     24 * time.Hour,
	Entries:      65536,
}

// Limiter decides whether a password attempt may be checked at all. A
// refused attempt is answered without running PBKDF2, so guessing costs
// the server no more CPU than the limits allow. Callers ask Allow before
// checking a password and report the outcome with Failed or Succeeded.
type Limiter struct {
	o       LimiterOptions
	now     func() time.Time
	limited *prometheus.CounterVec

	mu    sync.Mutex
	pairs *lru.Cache[pairKey, *backoff]
	addrs *lru.Cache[string, *rate.Limiter]
	users *lru.Cache[string, *rate.Limiter]
	known *lru.Cache[pairKey, time.Time] // last login from this address
}

type pairKey struct{ user, addr string }

type backoff struct {
	fails int
	until time.Time
}

// NewLimiter builds a limiter on the clock now (nil: time.Now); reg, if
// set, gets ioc_auth_limited_total.
func NewLimiter(o LimiterOptions, now func() time.Time, reg prometheus.Registerer) *Limiter {
	d := DefaultLimiterOptions
	def := func(v *int, dv int) {
		if *v <= 0 {
			*v = dv
		}
	}
	defd := func(v *time.Duration, dv time.Duration) {
		if *v <= 0 {
			*v = dv
		}
	}
	def(&o.FreeFailures, d.FreeFailures)
	def(&o.AddressBurst, d.AddressBurst)
	def(&o.UserBurst, d.UserBurst)
	def(&o.Entries, d.Entries)
	defd(&o.BaseDelay, d.BaseDelay)
	defd(&o.MaxDelay, d.MaxDelay)
	defd(&o.AddressEvery, d.AddressEvery)
	defd(&o.UserEvery, d.UserEvery)
	defd(&o.KnownFor, d.KnownFor)
	if now == nil {
		now = time.Now
	}
	l := &Limiter{o: o, now: now, limited: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ioc_auth_limited_total",
		Help: "Password attempts refused without being checked, by what held them: pair (this username from this address is backing off), address, username.",
	}, []string{"by"})}
	if reg != nil {
		reg.MustRegister(l.limited)
	}
	l.pairs, _ = lru.New[pairKey, *backoff](o.Entries)
	l.addrs, _ = lru.New[string, *rate.Limiter](o.Entries)
	l.users, _ = lru.New[string, *rate.Limiter](o.Entries)
	l.known, _ = lru.New[pairKey, time.Time](o.Entries)
	return l
}

// Allow reports whether a password for user from addr may be checked now;
// if not, how long until it may.
func (l *Limiter) Allow(user, addr string) (retryAfter time.Duration, ok bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	k := pairKey{user, addr}
	if b, ok := l.pairs.Get(k); ok && now.Before(b.until) {
		l.limited.WithLabelValues("pair").Inc()
		return b.until.Sub(now), false
	}
	if a, ok := l.addrs.Get(addr); ok && a.TokensAt(now) < 1 {
		l.limited.WithLabelValues("address").Inc()
		return l.o.AddressEvery, false
	}
	if u, ok := l.users.Get(user); ok && u.TokensAt(now) < 1 && !l.isKnown(k, now) {
		l.limited.WithLabelValues("username").Inc()
		return l.o.UserEvery, false
	}
	return 0, true
}

func (l *Limiter) isKnown(k pairKey, now time.Time) bool {
	at, ok := l.known.Get(k)
	return ok && now.Sub(at) < l.o.KnownFor
}

// Failed records a wrong password for user from addr.
func (l *Limiter) Failed(user, addr string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	k := pairKey{user, addr}
	b, ok := l.pairs.Get(k)
	if !ok {
		b = &backoff{}
		l.pairs.Add(k, b)
	}
	b.fails++
	if over := b.fails - l.o.FreeFailures; over > 0 {
		d := l.o.MaxDelay
		if over <= 30 {
			d = min(l.o.BaseDelay<<(over-1), l.o.MaxDelay)
		}
		b.until = now.Add(d)
	}
	a, ok := l.addrs.Get(addr)
	if !ok {
		a = rate.NewLimiter(rate.Every(l.o.AddressEvery), l.o.AddressBurst)
		l.addrs.Add(addr, a)
	}
	a.AllowN(now, 1)
	if l.isKnown(k, now) {
		return
	}
	u, ok := l.users.Get(user)
	if !ok {
		u = rate.NewLimiter(rate.Every(l.o.UserEvery), l.o.UserBurst)
		l.users.Add(user, u)
	}
	u.AllowN(now, 1)
}

// Succeeded records a right password for user from addr: its backoff
// ends and the address is known for that user.
func (l *Limiter) Succeeded(user, addr string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	k := pairKey{user, addr}
	l.pairs.Remove(k)
	l.known.Add(k, now)
}

// Forgive drops the backoffs and budget of users: an account a reload
// added or gave a new secret is not held for attempts made before it
// existed or with the old secret. Addresses' budgets stay.
func (l *Limiter) Forgive(users []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, u := range users {
		l.users.Remove(u)
	}
	for _, k := range l.pairs.Keys() {
		for _, u := range users {
			if k.user == u {
				l.pairs.Remove(k)
			}
		}
	}
}
