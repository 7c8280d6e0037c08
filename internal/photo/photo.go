// Package photo keeps the photos technicians attach to an alert's fixed
// step: in a directory of the IOC server (not in the time series), each
// under a random id with a small record of which alert it belongs to. A
// photo is taken only if its bytes are a JPEG, PNG or WebP image, whatever
// the client says, and is served only with the type its bytes show.
package photo

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ioc-vn/ioc/internal/contract"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// MaxBytes bounds one photo. Phones scale a photo down before sending it
// (the technician's page does), so 8 MiB leaves room for a large one.
const MaxBytes = 8 << 20

// Errors Save returns for a photo it refuses.
var (
	ErrTooLarge = errors.New("photo: larger than 8 MiB")
	ErrNotImage = errors.New("photo: not a JPEG, PNG or WebP image")
	ErrNotFound = errors.New("photo: no such photo")
)

// types are the image types taken, as http.DetectContentType names them.
var types = map[string]bool{"image/jpeg": true, "image/png": true, "image/webp": true}

// Meta is what is kept beside a photo.
type Meta struct {
	ID    string    `json:"id"`
	Alert string    `json:"alert"`
	Type  string    `json:"type"` // sniffed from its bytes
	Size  int64     `json:"size"`
	By    string    `json:"by"`
	At    time.Time `json:"at"`
}

// Store is a directory of photos.
type Store struct {
	dir string
}

// Open opens (and makes) the directory dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("photo: %w", err)
	}
	return &Store{dir: dir}, nil
}

// ValidID reports whether id is of the form Save gives.
func ValidID(id string) bool { return contract.ValidPhotoID(id) }

// Save reads a photo from r (at most MaxBytes) for the alert alertID, sent
// by by at at. It refuses anything whose bytes are not a JPEG, PNG or WebP
// image (ErrNotImage) and anything larger (ErrTooLarge); nothing is kept
// then.
func (s *Store) Save(r io.Reader, alertID, by string, at time.Time) (Meta, error) {
	var raw [16]byte
	rand.Read(raw[:])
	m := Meta{ID: hex.EncodeToString(raw[:]), Alert: alertID, By: by, At: at.UTC()}
	f, err := os.CreateTemp(s.dir, ".upload-*")
	if err != nil {
		return Meta{}, fmt.Errorf("photo: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the rename, a no-op
	head := make([]byte, 512)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		f.Close()
		return Meta{}, fmt.Errorf("photo: reading: %w", err)
	}
	head = head[:n]
	m.Type = http.DetectContentType(head)
	if !types[m.Type] {
		f.Close()
		return Meta{}, ErrNotImage
	}
	if _, err := f.Write(head); err != nil {
		f.Close()
		return Meta{}, fmt.Errorf("photo: %w", err)
	}
	rest, err := io.Copy(f, io.LimitReader(r, MaxBytes-int64(n)+1))
	m.Size = int64(n) + rest
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	var tooBig *http.MaxBytesError // the request's own bound
	switch {
	case m.Size > MaxBytes, errors.As(err, &tooBig):
		return Meta{}, ErrTooLarge
	case err != nil:
		return Meta{}, fmt.Errorf("photo: %w", err)
	}
	meta, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(s.dir, m.ID+".json"), meta, 0o600); err != nil {
		return Meta{}, fmt.Errorf("photo: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, m.ID)); err != nil {
		os.Remove(filepath.Join(s.dir, m.ID+".json"))
		return Meta{}, fmt.Errorf("photo: %w", err)
	}
	return m, nil
}

// Get opens the photo id; the caller closes it.
func (s *Store) Get(id string) (*os.File, Meta, error) {
	if !ValidID(id) {
		return nil, Meta{}, ErrNotFound
	}
	var m Meta
	b, err := os.ReadFile(filepath.Join(s.dir, id+".json"))
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil || m.ID != id || !types[m.Type] {
		return nil, Meta{}, ErrNotFound
	}
	f, err := os.Open(filepath.Join(s.dir, id))
	if err != nil {
		return nil, Meta{}, ErrNotFound
	}
	return f, m, nil
}

// Remove deletes the photo id (one whose step the alert service refused).
func (s *Store) Remove(id string) {
	if ValidID(id) {
		os.Remove(filepath.Join(s.dir, id))
		os.Remove(filepath.Join(s.dir, id+".json"))
	}
}

// Sweep deletes the photos taken before before (by their record's time),
// and uploads left half-written by a crash that are older than it, and
// returns how many photos it deleted. A photo whose record does not read
// is left alone.
func (s *Store) Sweep(before time.Time) (int, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, fmt.Errorf("photo: sweep: %w", err)
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".upload-") {
			if info, err := e.Info(); err == nil && info.ModTime().Before(before) {
				os.Remove(filepath.Join(s.dir, name))
			}
			continue
		}
		id, ok := strings.CutSuffix(name, ".json")
		if !ok || !ValidID(id) {
			continue
		}
		var m Meta
		b, err := os.ReadFile(filepath.Join(s.dir, name))
		if err != nil || json.Unmarshal(b, &m) != nil || m.ID != id || m.At.IsZero() {
			continue
		}
		if m.At.Before(before) {
			s.Remove(id)
			n++
		}
	}
	return n, nil
}
