package kiosk_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/kiosk"
)

func open(t *testing.T, path string, now func() time.Time) *kiosk.Store {
	t.Helper()
	s, err := kiosk.Open(path, now)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCredential: an enrolled wall's credential is accepted, by this store
// and by one reopened from its file; a wrong, altered or revoked one is
// not; the file holds no secret and only its owner may read it.
func TestCredential(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "kiosks.json")
	at := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	now := func() time.Time { return at }
	s := open(t, path, now)
	rec, cred, err := s.Enrol("  Màn hình phòng trực 1 ", "admin")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Name != "Màn hình phòng trực 1" || rec.CreatedBy != "admin" || !rec.CreatedAt.Equal(at) {
		t.Errorf("record %+v", rec)
	}
	other, otherCred, err := s.Enrol("Màn hình 2", "admin")
	if err != nil {
		t.Fatal(err)
	}
	id, secret, _ := strings.Cut(cred, ".")
	altered := secret[:len(secret)-1] + "A"
	if strings.HasSuffix(secret, "A") {
		altered = secret[:len(secret)-1] + "B"
	}
	for _, tc := range []struct {
		name string
		cred string
		ok   bool
	}{
		{"its credential", cred, true},
		{"another wall's credential", otherCred, true},
		{"the secret altered", id + "." + altered, false},
		{"another wall's secret with this id", id + "." + strings.SplitN(otherCred, ".", 2)[1], false},
		{"no secret", id + ".", false},
		{"no dot", id, false},
		{"empty", "", false},
		{"too long", cred + strings.Repeat("A", kiosk.MaxCredential), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, ok := s.Check(tc.cred)
			if ok != tc.ok {
				t.Fatalf("Check: %v, want %v", ok, tc.ok)
			}
			if ok && k.ID != strings.SplitN(tc.cred, ".", 2)[0] {
				t.Errorf("Check named kiosk %s", k.ID)
			}
		})
	}

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), secret) {
		t.Errorf("the file holds the secret:\n%s", b)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", st.Mode().Perm())
	}

	at = at.Add(time.Hour)
	if _, err := s.Revoke(rec.ID, "admin2"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Check(cred); ok {
		t.Error("revoked credential accepted")
	}
	if _, err := s.Revoke(rec.ID, "admin2"); !errors.Is(err, kiosk.ErrNotFound) {
		t.Errorf("second revocation: %v, want ErrNotFound", err)
	}

	again := open(t, path, now)
	if _, ok := again.Check(cred); ok {
		t.Error("revoked credential accepted after reopening")
	}
	if k, ok := again.Check(otherCred); !ok || k.Name != other.Name {
		t.Errorf("the other wall after reopening: %v %+v", ok, k)
	}
	list := again.List()
	if len(list) != 2 || list[0].ID != other.ID && list[1].ID != other.ID {
		t.Fatalf("list %+v", list)
	}
	for _, k := range list {
		if k.ID == rec.ID && (!k.RevokedAt.Equal(at) || k.RevokedBy != "admin2") {
			t.Errorf("revoked kiosk listed as %+v", k)
		}
	}
}

func TestNames(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "kiosks.json"), nil)
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"Tường chính", true},
		{strings.Repeat("ă", kiosk.MaxName), true},
		{strings.Repeat("ă", kiosk.MaxName+1), false},
		{"", false},
		{"   ", false},
		{"a\nb", false},
	} {
		_, _, err := s.Enrol(tc.name, "admin")
		if (err == nil) != tc.ok {
			t.Errorf("Enrol(%q): %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// TestApply: a record shared by another server is added; its revocation
// revokes the kiosk here (once); a revoked kiosk stays revoked whatever
// older record arrives later.
func TestApply(t *testing.T) {
	a := open(t, filepath.Join(t.TempDir(), "a.json"), nil)
	b := open(t, filepath.Join(t.TempDir(), "b.json"), nil)
	rec, cred, err := a.Enrol("Tường chính", "admin")
	if err != nil {
		t.Fatal(err)
	}
	if revoked, err := b.Apply(rec); err != nil || revoked {
		t.Fatalf("apply enrolment: %v %v", revoked, err)
	}
	if _, ok := b.Check(cred); !ok {
		t.Fatal("a wall enrolled on A is refused by B")
	}
	gone, err := a.Revoke(rec.ID, "admin")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false} {
		if revoked, err := b.Apply(gone); err != nil || revoked != want {
			t.Errorf("apply revocation #%d: %v %v, want %v", i+1, revoked, err, want)
		}
	}
	if _, ok := b.Check(cred); ok {
		t.Error("B accepts a wall revoked on A")
	}
	if revoked, err := b.Apply(rec); err != nil || revoked {
		t.Errorf("stale enrolment after the revocation: %v %v", revoked, err)
	}
	if _, ok := b.Check(cred); ok {
		t.Error("a stale enrolment brought a revoked wall back")
	}
	// A revocation of a kiosk never seen is kept, so that its enrolment,
	// arriving later, cannot bring it back.
	rec2, cred2, _ := a.Enrol("Tường phụ", "admin")
	gone2, _ := a.Revoke(rec2.ID, "admin")
	c := open(t, filepath.Join(t.TempDir(), "c.json"), nil)
	if _, err := c.Apply(gone2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(rec2); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Check(cred2); ok {
		t.Error("enrolment after its revocation accepted")
	}
	for _, bad := range []kiosk.Record{{}, {Kiosk: kiosk.Kiosk{ID: "../x", Name: "x"}, Hash: rec.Hash}, {Kiosk: kiosk.Kiosk{ID: rec.ID, Name: "x"}, Hash: "short"}} {
		if _, err := c.Apply(bad); err == nil {
			t.Errorf("invalid record %+v applied", bad)
		}
	}
}
