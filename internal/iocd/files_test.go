package iocd_test

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// TestDataDirPrivate is the security review's probe 266: what ingest and
// the IOC server write under data_dir (embedded store, broker sessions and
// retained messages, stamp journal, alert state, audit log) is readable by
// their user only: files 0600, directories 0700, whatever the umask.
func TestDataDirPrivate(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data") // created by ingest
	sys := startIngest(t, func(c *ingestd.Config) { c.DataDir = dataDir })
	c := iocConfig(t, sys, "files")
	c.AuditLog = filepath.Join(dataDir, "audit", "audit.log")
	base := startIOC(t, c)
	login(t, base, "viewer") // an audit entry
	env := integrator(t, sys, "envsense")
	env("wl-cau-gia-bay", "telemetry", `{"water_level_cm":100}`)
	env("wl-cau-gia-bay", "telemetry", `{"water_level_cm":130}`) // an alert: alert state, history
	testenv.Eventually(t, 10*time.Second, func() error {
		return walkModes(dataDir, []string{"ioc.db", "alerts.db", "stamps.journal", "broker", "audit/audit.log"})
	})
	if err := walkModes(dataDir, nil); err != nil {
		t.Fatal(err)
	}
}

// walkModes checks every mode under dir and that each of want exists.
func walkModes(dir string, want []string) error {
	seen := map[string]bool{}
	var bad []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		seen[filepath.ToSlash(rel)] = true
		wantMode := fs.FileMode(0o600)
		if d.IsDir() {
			wantMode = 0o700
		}
		if info.Mode().Perm() != wantMode {
			bad = append(bad, rel+" "+info.Mode().Perm().String())
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, w := range want {
		if !seen[w] {
			return fmt.Errorf("%s not created yet", w)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("not owner-only (files 0600, directories 0700): %s", strings.Join(bad, ", "))
	}
	return nil
}
