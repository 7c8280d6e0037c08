package access

import (
	"cmp"
	"testing"
	"time"
)

// TestLimiter plays attempts on a fake clock; each step is an attempt
// (allowed or not) followed, if allowed, by its outcome.
func TestLimiter(t *testing.T) {
	type step struct {
		at        time.Duration // since the start
		user      string
		addr      string
		ok        bool // the password is right
		wantAllow bool
	}
	o := LimiterOptions{FreeFailures: 2, BaseDelay: time.Second, MaxDelay: 8 * time.Second,
		AddressBurst: 100, AddressEvery: time.Minute, UserBurst: 100, UserEvery: time.Minute, KnownFor: time.Hour}
	for _, c := range []struct {
		name                    string
		addressBurst, userBurst int
		steps                   []step
	}{
		{"backoff doubles per pair after the free failures", 0, 0, []step{
			{0, "u", "a1", false, true},
			{0, "u", "a1", false, true},
			{0, "u", "a1", false, true}, // 3rd failure: wait 1 s
			{500 * time.Millisecond, "u", "a1", true, false},
			{time.Second, "u", "a1", false, true}, // 4th: wait 2 s
			{2 * time.Second, "u", "a1", true, false},
			{3 * time.Second, "u", "a1", true, true}, // success ends the backoff
			{3 * time.Second, "u", "a1", false, true},
		}},
		{"a backing-off pair does not hold the user elsewhere", 0, 0, []step{
			{0, "u", "a1", false, true},
			{0, "u", "a1", false, true},
			{0, "u", "a1", false, true},
			{0, "u", "a1", true, false},
			{0, "u", "a2", true, true},
		}},
		{"backoff is capped", 0, 0, []step{
			{0, "u", "a1", false, true}, {0, "u", "a1", false, true}, {0, "u", "a1", false, true}, // +1 s
			{1 * time.Second, "u", "a1", false, true},  // +2 s
			{3 * time.Second, "u", "a1", false, true},  // +4 s
			{7 * time.Second, "u", "a1", false, true},  // +8 s (cap)
			{15 * time.Second, "u", "a1", false, true}, // +8 s, not 16
			{23 * time.Second, "u", "a1", true, true},
		}},
		{"an address has a budget across usernames", 5, 0, []step{
			{0, "u1", "a1", false, true}, {0, "u2", "a1", false, true}, {0, "u3", "a1", false, true},
			{0, "u4", "a1", false, true}, {0, "u5", "a1", false, true},
			{0, "u6", "a1", true, false},
			{0, "u6", "a2", true, true},
			{time.Minute, "u6", "a1", true, true}, // one token back
		}},
		{"a username has a budget across unknown addresses, not known ones", 0, 4, []step{
			{0, "u", "home", true, true}, // the real user's address
			{0, "u", "x1", false, true}, {0, "u", "x2", false, true}, {0, "u", "x3", false, true}, {0, "u", "x4", false, true},
			{0, "u", "x5", false, false},
			{0, "u", "elsewhere", true, false}, // an address never seen waits
			{0, "u", "home", true, true},       // the known one does not
			{0, "other", "x5", false, true},    // other accounts are not held
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			now := start
			o := o
			o.AddressBurst = cmp.Or(c.addressBurst, o.AddressBurst)
			o.UserBurst = cmp.Or(c.userBurst, o.UserBurst)
			l := NewLimiter(o, func() time.Time { return now }, nil)
			for i, s := range c.steps {
				now = start.Add(s.at)
				_, allowed := l.Allow(s.user, s.addr)
				if allowed != s.wantAllow {
					t.Fatalf("step %d (%+v): allowed %v, want %v", i, s, allowed, s.wantAllow)
				}
				if !allowed {
					continue
				}
				if s.ok {
					l.Succeeded(s.user, s.addr)
				} else {
					l.Failed(s.user, s.addr)
				}
			}
		})
	}
}

// TestWrongPasswordCached: a wrong password is checked with PBKDF2 once;
// the same wrong password again is refused from the cache.
func TestWrongPasswordCached(t *testing.T) {
	p, err := New(File{Accounts: []Account{{Username: "acme", PasswordHash: mustHash(t, "a"), Role: RoleIntegrator, Integrator: "acme"}}}, testRegistry(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Authenticate("acme", []byte("wrong")); ok {
		t.Fatal("wrong password accepted")
	}
	// Break the hash: only a cached answer can still refuse without error,
	// and a right password must still be checked.
	p.accounts["acme"].PasswordHash = "$7$1$AAAA$" + "x"
	if _, ok := p.Authenticate("acme", []byte("wrong")); ok {
		t.Fatal("wrong password accepted the second time")
	}
	if len(p.failed) != 1 {
		t.Fatalf("%d cached failures, want 1", len(p.failed))
	}
}
