package iocd_test

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/photo"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// TestOldPhotosDeleted: at its start the IOC server deletes the photos of
// fixes older than photos_keep and keeps the rest.
func TestOldPhotosDeleted(t *testing.T) {
	sys := startIngest(t)
	c := iocConfig(t, sys, "photos")
	c.Photos = t.TempDir()
	c.PhotosKeep = 30 * 24 * time.Hour
	ps, err := photo.Open(c.Photos)
	if err != nil {
		t.Fatal(err)
	}
	var img bytes.Buffer
	if err := png.Encode(&img, image.NewRGBA(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	save := func(age time.Duration) string {
		m, err := ps.Save(bytes.NewReader(img.Bytes()), "camera-tamper/cam-bvtw-01", "technician", time.Now().Add(-age))
		if err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	old, recent := save(31*24*time.Hour), save(29*24*time.Hour)
	startIOC(t, c)
	testenv.Eventually(t, 10*time.Second, func() error {
		if _, _, err := ps.Get(old); !errors.Is(err, photo.ErrNotFound) {
			return errors.New("the 31-day-old photo is still there")
		}
		return nil
	})
	f, _, err := ps.Get(recent)
	if err != nil {
		t.Fatalf("the 29-day-old photo: %v", err)
	}
	f.Close()
}
