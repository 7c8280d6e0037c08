// Package kiosk keeps the enrolled walls: long-lived, revocable
// credentials that only view, so that an unattended wall never falls onto
// the login page when a person's session would end.
//
// An admin enrols a wall by name and is shown its credential once
// ("<id>.<secret>", the secret 256 random bits). Only a hash of the secret
// is kept (SHA-256: the secret is random and long, so a slow password hash
// would add nothing), with the name, who enrolled it and when, and when it
// was last used, in a JSON file (mode 0600). Revoking keeps the record,
// marked revoked: a revoked credential is refused for good, and a record
// shared by another server can never bring it back.
//
// Records are small and few (a province has tens of walls); the store
// holds at most MaxKiosks, revoked ones included.
package kiosk

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Kiosk is an enrolled wall as an admin sees it.
type Kiosk struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// LastUsed is when this server last accepted the credential (each
	// server keeps its own; it is not shared).
	LastUsed  time.Time `json:"last_used,omitzero"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	RevokedBy string    `json:"revoked_by,omitempty"`
}

// Revoked reports whether the kiosk's credential is refused.
func (k Kiosk) Revoked() bool { return !k.RevokedAt.IsZero() }

// Record is a kiosk with the hash of its secret: what the file holds and
// what servers share.
type Record struct {
	Kiosk
	Hash string `json:"hash"` // base64url SHA-256 of the secret
}

// Bounds.
const (
	// MaxKiosks bounds the records, revoked ones included.
	MaxKiosks = 1000
	// MaxName bounds a kiosk's name, in characters.
	MaxName = 64
	// MaxCredential bounds a credential presented for checking.
	MaxCredential = 128
	// usedEvery is how often a kiosk's last use is written to the file.
	usedEvery = time.Minute
)

// Errors.
var (
	ErrName     = fmt.Errorf("kiosk: the name must be 1-%d characters", MaxName)
	ErrFull     = fmt.Errorf("kiosk: %d kiosks enrolled already", MaxKiosks)
	ErrNotFound = errors.New("kiosk: no such kiosk, or revoked already")
)

var idRE = regexp.MustCompile(`^[a-z2-7]{16}$`)

// Store is the enrolled kiosks, kept in a file.
type Store struct {
	path string
	now  func() time.Time

	mu    sync.Mutex
	recs  map[string]*Record
	saved map[string]time.Time // a kiosk's last use as last written
}

// Open reads the file at path (a missing file is an empty store). now may
// be nil.
func Open(path string, now func() time.Time) (*Store, error) {
	if now == nil {
		now = time.Now
	}
	s := &Store{path: path, now: now, recs: map[string]*Record{}, saved: map[string]time.Time{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("kiosks: %w", err)
	}
	var file struct {
		Kiosks []Record `json:"kiosks"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		return nil, fmt.Errorf("kiosks: %s: %w", path, err)
	}
	for _, r := range file.Kiosks {
		if err := r.valid(); err != nil {
			return nil, fmt.Errorf("kiosks: %s: %w", path, err)
		}
		s.recs[r.ID] = &r
		s.saved[r.ID] = r.LastUsed
	}
	return s, nil
}

func (r *Record) valid() error {
	if !idRE.MatchString(r.ID) {
		return fmt.Errorf("kiosk id %q: not an id this server makes", r.ID)
	}
	if err := checkName(r.Name); err != nil {
		return fmt.Errorf("kiosk %s: %w", r.ID, err)
	}
	if h, err := base64.RawURLEncoding.DecodeString(r.Hash); err != nil || len(h) != sha256.Size {
		return fmt.Errorf("kiosk %s: the hash is not a SHA-256", r.ID)
	}
	return nil
}

func checkName(name string) error {
	n := utf8.RuneCountInString(name)
	if strings.TrimSpace(name) != name || n < 1 || n > MaxName || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return ErrName
	}
	return nil
}

// Enrol makes a kiosk named name for by and returns its record and its
// credential (shown once; only its hash is kept).
func (s *Store) Enrol(name, by string) (Record, string, error) {
	name = strings.TrimSpace(name)
	if err := checkName(name); err != nil {
		return Record{}, "", err
	}
	id := strings.ToLower(rand.Text()[:16])
	secret := rand.Text() + rand.Text() // 2 × 128 bits
	r := &Record{Kiosk: Kiosk{ID: id, Name: name, CreatedBy: by, CreatedAt: s.now().UTC()}, Hash: hash(secret)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.recs) >= MaxKiosks {
		return Record{}, "", ErrFull
	}
	s.recs[id] = r
	if err := s.saveLocked(); err != nil {
		delete(s.recs, id)
		return Record{}, "", err
	}
	return *r, id + "." + secret, nil
}

func hash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// Revoke refuses the kiosk's credential from now on.
func (s *Store) Revoke(id, by string) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[id]
	if !ok || r.Revoked() {
		return Record{}, ErrNotFound
	}
	old := *r
	r.RevokedAt, r.RevokedBy = s.now().UTC(), by
	if err := s.saveLocked(); err != nil {
		*r = old
		return Record{}, err
	}
	return *r, nil
}

// List returns every kiosk, revoked ones included, newest first.
func (s *Store) List() []Kiosk {
	s.mu.Lock()
	out := make([]Kiosk, 0, len(s.recs))
	for _, r := range s.recs {
		out = append(out, r.Kiosk)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Kiosk) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out
}

// Check returns the kiosk whose credential this is, if it is enrolled and
// not revoked, and notes its use.
func (s *Store) Check(credential string) (Kiosk, bool) {
	id, secret, ok := strings.Cut(credential, ".")
	if !ok || len(credential) > MaxCredential || !idRE.MatchString(id) {
		return Kiosk{}, false
	}
	want := hash(secret)
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[id]
	if !ok || r.Revoked() || subtle.ConstantTimeCompare([]byte(want), []byte(r.Hash)) != 1 {
		return Kiosk{}, false
	}
	now := s.now().UTC()
	r.LastUsed = now
	if now.Sub(s.saved[id]) >= usedEvery {
		s.saved[id] = now
		_ = s.saveLocked() // a last-use time not written is not worth refusing the wall
	}
	return r.Kiosk, true
}

// Apply takes a record another server shared: a kiosk not known is added,
// a revocation is applied (and never undone). It reports whether a kiosk
// that was active here is now revoked.
func (s *Store) Apply(r Record) (revoked bool, err error) {
	if err := r.valid(); err != nil {
		return false, err
	}
	r.LastUsed = time.Time{}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.recs[r.ID]
	switch {
	case ok && cur.Revoked():
		return false, nil
	case ok && r.Revoked():
		cur.RevokedAt, cur.RevokedBy = r.RevokedAt, r.RevokedBy
		revoked = true
	case ok:
		return false, nil // known and active on both
	case len(s.recs) >= MaxKiosks:
		return false, ErrFull
	default:
		s.recs[r.ID] = &r
	}
	return revoked, s.saveLocked()
}

// saveLocked writes the file whole (a temporary file renamed over it).
func (s *Store) saveLocked() error {
	file := struct {
		Kiosks []Record `json:"kiosks"`
	}{Kiosks: make([]Record, 0, len(s.recs))}
	for _, r := range s.recs {
		file.Kiosks = append(file.Kiosks, *r)
	}
	slices.SortFunc(file.Kiosks, func(a, b Record) int { return a.CreatedAt.Compare(b.CreatedAt) })
	b, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("kiosks: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".kiosks-*")
	if err != nil {
		return fmt.Errorf("kiosks: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.path)
	}
	if err != nil {
		return fmt.Errorf("kiosks: writing %s: %w", s.path, err)
	}
	return nil
}
