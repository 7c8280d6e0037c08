package photo

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func TestSave(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 8, 6))
	var pngB, jpgB bytes.Buffer
	if err := png.Encode(&pngB, img); err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(&jpgB, img, nil); err != nil {
		t.Fatal(err)
	}
	// A WebP file's RIFF header, as a camera app writes it.
	webp := append([]byte("RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00"), make([]byte, 24)...)
	at := time.Date(2026, 5, 8, 7, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		data     []byte
		wantType string
		wantErr  error
	}{
		{"png", pngB.Bytes(), "image/png", nil},
		{"jpeg", jpgB.Bytes(), "image/jpeg", nil},
		{"webp", webp, "image/webp", nil},
		{"html named .jpg", []byte("<html><script>alert(1)</script>"), "", ErrNotImage},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), "", ErrNotImage},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), "", ErrNotImage},
		{"empty", nil, "", ErrNotImage},
		{"over 8 MiB", append(pngB.Bytes(), make([]byte, MaxBytes)...), "", ErrTooLarge},
		{"exactly 8 MiB", append(pngB.Bytes(), make([]byte, MaxBytes-pngB.Len())...), "image/png", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			m, err := s.Save(bytes.NewReader(tc.data), "camera-tamper/cam-1", "ky-thuat-1", at)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Save: %v, want %v", err, tc.wantErr)
			}
			left, _ := os.ReadDir(dir)
			if tc.wantErr != nil {
				if len(left) != 0 {
					t.Errorf("a refused photo left %d files", len(left))
				}
				return
			}
			if m.Type != tc.wantType || !ValidID(m.ID) || m.Size != int64(len(tc.data)) || m.Alert != "camera-tamper/cam-1" || len(left) != 2 {
				t.Fatalf("meta %+v, %d files", m, len(left))
			}
			f, got, err := s.Get(m.ID)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(f)
			f.Close()
			if got != m || !bytes.Equal(b, tc.data) {
				t.Errorf("Get: %+v, %d bytes", got, len(b))
			}
			s.Remove(m.ID)
			if _, _, err := s.Get(m.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("after Remove: %v", err)
			}
		})
	}
}

func TestGetRefusesOtherNames(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"", "../photos", strings.Repeat("A", 32), strings.Repeat("0", 31), strings.Repeat("0", 32)} {
		if _, _, err := s.Get(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q): %v, want ErrNotFound", id, err)
		}
	}
}

// TestSweep: photos taken before the cut are deleted with their records,
// later ones kept; a crashed upload older than the cut goes too.
func TestSweep(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var pngB bytes.Buffer
	if err := png.Encode(&pngB, image.NewRGBA(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	cut := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var old, kept []string
	for i, at := range []time.Time{cut.Add(-400 * 24 * time.Hour), cut.Add(-time.Second), cut, cut.Add(time.Hour)} {
		m, err := s.Save(bytes.NewReader(pngB.Bytes()), "camera-tamper/cam-01", "ky-thuat", at)
		if err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			old = append(old, m.ID)
		} else {
			kept = append(kept, m.ID)
		}
	}
	crashed := dir + "/.upload-123"
	if err := os.WriteFile(crashed, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(crashed, cut.Add(-time.Hour), cut.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	n, err := s.Sweep(cut)
	if err != nil || n != 2 {
		t.Fatalf("Sweep = %d, %v; want 2 deleted", n, err)
	}
	for _, id := range old {
		if _, _, err := s.Get(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("photo %s taken before the cut is still served (%v)", id, err)
		}
		if _, err := os.Stat(dir + "/" + id + ".json"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("photo %s's record is left behind", id)
		}
	}
	for _, id := range kept {
		f, _, err := s.Get(id)
		if err != nil {
			t.Errorf("photo %s taken at or after the cut: %v", id, err)
			continue
		}
		f.Close()
	}
	if _, err := os.Stat(crashed); !errors.Is(err, os.ErrNotExist) {
		t.Error("a crashed upload older than the cut is left behind")
	}
}
