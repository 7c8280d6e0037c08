package provision

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ioc-vn/ioc/internal/access"
	"github.com/ioc-vn/ioc/internal/registry"
)

// shipped copies the shipped province registry and credentials into a
// temporary directory.
func shipped(t *testing.T) (*Files, string, string) {
	t.Helper()
	dir := t.TempDir()
	reg, cred := filepath.Join(dir, "province.yaml"), filepath.Join(dir, "credentials.yaml")
	for src, dst := range map[string]string{"../../configs/province.yaml": reg, "../../configs/credentials.yaml": cred} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return New(reg, cred), reg, cred
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// added returns the lines of after that are not in before, in order, and
// fails if before lost a line.
func added(t *testing.T, before, after string) []string {
	t.Helper()
	have := map[string]int{}
	for _, l := range strings.Split(before, "\n") {
		have[l]++
	}
	var out []string
	for _, l := range strings.Split(after, "\n") {
		if have[l] > 0 {
			have[l]--
			continue
		}
		out = append(out, l)
	}
	for l, n := range have {
		if n > 0 {
			t.Errorf("line lost: %q", l)
		}
	}
	return out
}

func TestNoChangeKeepsFilesByteForByte(t *testing.T) {
	f, reg, cred := shipped(t)
	r0, c0 := read(t, reg), read(t, cred)
	if _, err := f.Apply(func(*Set) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if read(t, reg) != r0 || read(t, cred) != c0 {
		t.Fatal("a change that changes nothing rewrote a file")
	}
}

// TestOnboardWritesOneLinePerEntry: a new integrator, its camera and
// their accounts appear as the new lines only, in the files' own style,
// and the processes' loaders read them; the secret verifies.
func TestOnboardWritesOneLinePerEntry(t *testing.T) {
	f, reg, cred := shipped(t)
	r0, c0 := read(t, reg), read(t, cred)
	secret, hash, err := NewSecret(1000)
	if err != nil {
		t.Fatal(err)
	}
	var user string
	_, err = f.Apply(func(s *Set) error {
		if err := s.AddIntegrator(registry.Integrator{ID: "antoan-tn", Name: "Công ty An Toàn Thái Nguyên"}); err != nil {
			return err
		}
		if err := s.AddDevice(registry.Device{ID: "nvr-antoan-01", Kind: registry.NVR, Name: "Đầu ghi An Toàn 01", District: "dong-hy", Integrator: "antoan-tn", Lat: 21.6, Lon: 105.9}); err != nil {
			return err
		}
		if err := s.AddDevice(registry.Device{ID: "cam-antoan-01", Kind: registry.Camera, Name: "Camera An Toàn 01", District: "dong-hy", Integrator: "antoan-tn", Parent: "nvr-antoan-01", Lat: 21.6, Lon: 105.9, Profile: &registry.Profile{FPS: 25, BitrateKbps: 2048}, Commissioning: true}); err != nil {
			return err
		}
		user, err = s.SetSecret("antoan-tn", "", hash)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`  - {id: antoan-tn, name: "Công ty An Toàn Thái Nguyên"}`,
		`  - {id: nvr-antoan-01, kind: nvr, name: "Đầu ghi An Toàn 01", district: dong-hy, integrator: antoan-tn, lat: 21.6, lon: 105.9}`,
		`  - {id: cam-antoan-01, kind: camera, name: "Camera An Toàn 01", district: dong-hy, integrator: antoan-tn, parent: nvr-antoan-01, lat: 21.6, lon: 105.9, profile: {fps: 25, bitrate_kbps: 2048}, commissioning: true}`,
	}
	if got := added(t, r0, read(t, reg)); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("registry lines added:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	wantCred := []string{"  - username: antoan-tn", "    role: integrator", "    integrator: antoan-tn", `    password_hash: "` + hash + `"`}
	if got := added(t, c0, read(t, cred)); strings.Join(got, "\n") != strings.Join(wantCred, "\n") {
		t.Errorf("credentials lines added:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantCred, "\n"))
	}
	r, err := registry.Load(reg)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := r.Device("cam-antoan-01"); !ok || d.Parent != "nvr-antoan-01" || !d.Commissioning || d.Profile.FPS != 25 {
		t.Errorf("device read back as %+v", d)
	}
	p, err := access.Load(cred, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Authenticate(user, []byte(secret)); !ok {
		t.Error("the generated secret does not authenticate")
	}
}

// TestRefusedChangeWritesNothing: changes the loaders refuse come back
// with every error and its line, and neither file changes.
func TestRefusedChangeWritesNothing(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(*Set) error
		want   []string
	}{
		{"unknown district and parent", func(s *Set) error {
			_ = s.AddDevice(registry.Device{ID: "aq-x-01", Kind: registry.Sensor, Name: "X", District: "ha-noi", Integrator: "envsense", Lat: 21, Lon: 105})
			return s.AddDevice(registry.Device{ID: "cam-x-01", Kind: registry.Camera, Name: "Y", District: "dong-hy", Integrator: "vms-tn", Parent: "nvr-none", Lat: 21, Lon: 105})
		}, []string{
			`line 745: device "aq-x-01": district "ha-noi" is not in districts`,
			`line 746: device "cam-x-01": parent "nvr-none" is not a registered device`,
		}},
		{"account of an unknown device", func(s *Set) error {
			s.Accounts = append(s.Accounts, access.Account{Username: "ghost", Role: access.RoleDevice, Integrator: "vms-tn", Device: "cam-ghost", PasswordHash: s.Accounts[0].PasswordHash})
			return nil
		}, []string{`credentials: line 44: account "ghost": device "cam-ghost" is not in the device registry`}},
		{"bad id", func(s *Set) error {
			return s.AddIntegrator(registry.Integrator{ID: "An Toàn", Name: "A"})
		}, []string{`integrator id "An Toàn": use 1-32 of a-z 0-9 _ -`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, reg, cred := shipped(t)
			r0, c0 := read(t, reg), read(t, cred)
			_, err := f.Apply(c.change)
			var ref *Refused
			if !errors.As(err, &ref) {
				t.Fatalf("Apply error %v, want a refusal", err)
			}
			for _, w := range c.want {
				if !strings.Contains(strings.Join(ref.Errors, "\n"), w) {
					t.Errorf("errors %q lack %q", ref.Errors, w)
				}
			}
			if read(t, reg) != r0 || read(t, cred) != c0 {
				t.Error("a refused change wrote a file")
			}
		})
	}
}

// TestFailedWriteLeavesTheOldFiles: when a rename fails the old file
// stays, no temporary file is left, and when the second file fails the
// first is put back.
func TestFailedWriteLeavesTheOldFiles(t *testing.T) {
	for _, failOn := range []string{"province.yaml", "credentials.yaml"} {
		t.Run(failOn, func(t *testing.T) {
			f, reg, cred := shipped(t)
			r0, c0 := read(t, reg), read(t, cred)
			f.rename = func(oldpath, newpath string) error {
				if filepath.Base(newpath) == failOn {
					return errors.New("disk full")
				}
				return os.Rename(oldpath, newpath)
			}
			_, hash, _ := NewSecret(1000)
			_, err := f.Apply(func(s *Set) error {
				if err := s.AddDevice(registry.Device{ID: "aq-new-01", Kind: registry.Sensor, Name: "Mới", District: "dong-hy", Integrator: "envsense", Lat: 21, Lon: 105}); err != nil {
					return err
				}
				_, err := s.SetSecret("", "aq-new-01", hash)
				return err
			})
			if err == nil || !strings.Contains(err.Error(), "disk full") {
				t.Fatalf("Apply error %v, want the rename's", err)
			}
			if read(t, reg) != r0 || read(t, cred) != c0 {
				t.Error("a failed write changed a file")
			}
			left, _ := filepath.Glob(filepath.Join(filepath.Dir(reg), ".*tmp*"))
			if len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
			if st, _ := os.Stat(reg); st.Mode().Perm() != 0o640 {
				t.Errorf("registry mode %v, want 0640 kept", st.Mode().Perm())
			}
		})
	}
}

// TestDeleteAndDisable: deleting a device removes its account; a parent
// or an integrator with devices cannot be deleted; disabling an
// integrator disables its device accounts too.
func TestDeleteAndDisable(t *testing.T) {
	f, reg, cred := shipped(t)
	if _, err := f.Apply(func(s *Set) error { return s.DeleteDevice("nvr-bvtw") }); !errors.Is(err, ErrConflict) {
		t.Errorf("deleting a parent: %v, want a conflict", err)
	}
	if _, err := f.Apply(func(s *Set) error { return s.DeleteIntegrator("vms-tn") }); !errors.Is(err, ErrConflict) {
		t.Errorf("deleting an integrator with devices: %v, want a conflict", err)
	}
	if _, err := f.Apply(func(s *Set) error { return s.DeleteDevice("cam-none") }); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting an unknown device: %v, want not found", err)
	}
	if _, err := f.Apply(func(s *Set) error { return s.DisableIntegrator("vms-tn", true) }); err != nil {
		t.Fatal(err)
	}
	r, _ := registry.Load(reg)
	p, err := access.Load(cred, r)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"vms-tn", "cam-bvtw-01"} {
		if a, _ := p.Account(u); !a.Disabled {
			t.Errorf("account %s not disabled", u)
		}
	}
	if a, _ := p.Account("envsense"); a.Disabled {
		t.Error("another integrator's account disabled")
	}
	if _, err := f.Apply(func(s *Set) error { return s.DeleteDevice("cam-bvtw-01") }); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(read(t, reg), "id: cam-bvtw-01,") || strings.Contains(read(t, cred), "username: cam-bvtw-01") {
		t.Error("device or its account still in the files")
	}
}

// TestConcurrentEditIsAConflict: a file changed on disk while a change is
// made (a hand edit, another IOC server) makes the change a conflict and
// the other edit survives.
func TestConcurrentEditIsAConflict(t *testing.T) {
	f, reg, _ := shipped(t)
	handEdited := read(t, reg) + "# edited by hand\n"
	_, err := f.Apply(func(s *Set) error {
		if err := os.WriteFile(reg, []byte(handEdited), 0o640); err != nil {
			t.Fatal(err)
		}
		return s.AddIntegrator(registry.Integrator{ID: "moi", Name: "Mới"})
	})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("Apply error %v, want a conflict", err)
	}
	if read(t, reg) != handEdited {
		t.Error("the hand edit was overwritten")
	}
}

// TestSymlinkStaysALink: a registry linked from elsewhere (a git checkout)
// is changed in place; the link stays.
func TestSymlinkStaysALink(t *testing.T) {
	_, reg, cred := shipped(t)
	link := filepath.Join(t.TempDir(), "devices.yaml")
	if err := os.Symlink(reg, link); err != nil {
		t.Fatal(err)
	}
	f := New(link, cred)
	if _, err := f.Apply(func(s *Set) error { return s.AddIntegrator(registry.Integrator{ID: "moi", Name: "Mới"}) }); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", st.Mode(), err)
	}
	if !strings.Contains(read(t, reg), `{id: moi, name: "Mới"}`) {
		t.Error("the link's target did not change")
	}
}
