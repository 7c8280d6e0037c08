package provision

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ioc-vn/ioc/internal/access"
	"github.com/ioc-vn/ioc/internal/registry"
)

// ErrNotFound and ErrConflict classify refused edits (wrapped with the
// reason).
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// AddIntegrator adds in to the registry's integrators.
func (s *Set) AddIntegrator(in registry.Integrator) error {
	if s.integrator(in.ID) >= 0 {
		return fmt.Errorf("%w: integrator %q already exists", ErrConflict, in.ID)
	}
	s.Registry.Integrators = append(s.Registry.Integrators, in)
	return nil
}

// DeleteIntegrator removes an integrator without devices and its accounts.
func (s *Set) DeleteIntegrator(id string) error {
	i := s.integrator(id)
	if i < 0 {
		return fmt.Errorf("%w: no integrator %q", ErrNotFound, id)
	}
	n := 0
	for _, d := range s.Registry.Devices {
		if d.Integrator == id {
			n++
		}
	}
	if n > 0 {
		return fmt.Errorf("%w: integrator %q still has %d devices; delete them first", ErrConflict, id, n)
	}
	s.Registry.Integrators = slices.Delete(s.Registry.Integrators, i, i+1)
	s.Accounts = slices.DeleteFunc(s.Accounts, func(a access.Account) bool { return a.Integrator == id })
	return nil
}

// DisableIntegrator disables (or enables again) every account of the
// integrator, its devices' accounts included: none can connect, and a
// reload closes their connections. Its devices stay registered.
func (s *Set) DisableIntegrator(id string, disabled bool) error {
	if s.integrator(id) < 0 {
		return fmt.Errorf("%w: no integrator %q", ErrNotFound, id)
	}
	for i := range s.Accounts {
		if a := &s.Accounts[i]; a.Integrator == id && a.SendsDeviceData() {
			a.Disabled = disabled
		}
	}
	return nil
}

// AddDevice adds d to the registry's devices.
func (s *Set) AddDevice(d registry.Device) error {
	if s.device(d.ID) >= 0 {
		return fmt.Errorf("%w: device %q already exists", ErrConflict, d.ID)
	}
	s.Registry.Devices = append(s.Registry.Devices, d)
	return nil
}

// DeleteDevice removes a device that is no other device's parent, and its
// own accounts.
func (s *Set) DeleteDevice(id string) error {
	i := s.device(id)
	if i < 0 {
		return fmt.Errorf("%w: no device %q", ErrNotFound, id)
	}
	for _, d := range s.Registry.Devices {
		if d.Parent == id {
			return fmt.Errorf("%w: device %q is the parent of %q; delete or move its children first", ErrConflict, id, d.ID)
		}
	}
	s.Registry.Devices = slices.Delete(s.Registry.Devices, i, i+1)
	s.Accounts = slices.DeleteFunc(s.Accounts, func(a access.Account) bool { return a.Role == access.RoleDevice && a.Device == id })
	return nil
}

// Retire marks devices as retired at the given time: they stay in the
// file, out of service. Every id must be a device in service.
func (s *Set) Retire(ids []string, at time.Time) error {
	at = at.UTC().Truncate(time.Second)
	for _, id := range ids {
		i := s.device(id)
		if i < 0 {
			return fmt.Errorf("%w: no device %q", ErrNotFound, id)
		}
		d := &s.Registry.Devices[i]
		if d.Retired != nil {
			return fmt.Errorf("%w: device %q was already retired on %s", ErrConflict, id, d.Retired.Format(time.RFC3339))
		}
		when := at
		d.Retired = &when
	}
	return nil
}

// Unretire brings a retired device back into service.
func (s *Set) Unretire(id string) error {
	i := s.device(id)
	if i < 0 {
		return fmt.Errorf("%w: no device %q", ErrNotFound, id)
	}
	if s.Registry.Devices[i].Retired == nil {
		return fmt.Errorf("%w: device %q is not retired", ErrConflict, id)
	}
	s.Registry.Devices[i].Retired = nil
	return nil
}

// DisableDevice disables (or enables again) the device's own accounts. A
// device without one connects only through its integrator's account:
// disable the integrator, or delete the device.
func (s *Set) DisableDevice(id string, disabled bool) error {
	if s.device(id) < 0 {
		return fmt.Errorf("%w: no device %q", ErrNotFound, id)
	}
	n := 0
	for i := range s.Accounts {
		if a := &s.Accounts[i]; a.Role == access.RoleDevice && a.Device == id {
			a.Disabled = disabled
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("%w: device %q has no account of its own; disable its integrator or delete the device", ErrConflict, id)
	}
	return nil
}

// SetSecret gives the integrator's account (device "") or the device's own
// account the password hash, creating the account (named after the
// integrator or device) if there is none. It returns the account's name.
func (s *Set) SetSecret(integrator, device, hash string) (string, error) {
	role, name := access.RoleIntegrator, integrator
	if device != "" {
		i := s.device(device)
		if i < 0 {
			return "", fmt.Errorf("%w: no device %q", ErrNotFound, device)
		}
		role, name, integrator = access.RoleDevice, device, s.Registry.Devices[i].Integrator
	} else if s.integrator(integrator) < 0 {
		return "", fmt.Errorf("%w: no integrator %q", ErrNotFound, integrator)
	}
	for i := range s.Accounts {
		if a := &s.Accounts[i]; a.Role == role && a.Integrator == integrator && a.Device == device {
			a.PasswordHash = hash
			return a.Username, nil
		}
	}
	for _, a := range s.Accounts {
		if a.Username == name {
			return "", fmt.Errorf("%w: the account name %q is taken by another account", ErrConflict, name)
		}
	}
	s.Accounts = append(s.Accounts, access.Account{Username: name, Role: role, Integrator: integrator, Device: device, PasswordHash: hash})
	return name, nil
}

func (s *Set) integrator(id string) int {
	return slices.IndexFunc(s.Registry.Integrators, func(in registry.Integrator) bool { return in.ID == id })
}

func (s *Set) device(id string) int {
	return slices.IndexFunc(s.Registry.Devices, func(d registry.Device) bool { return d.ID == id })
}

// NewSecret makes a random secret (32 characters of base64url, 192 bits)
// and its hash in the credentials file's format, made with the given
// PBKDF2 iterations (access.DefaultIterations for real accounts).
func NewSecret(iterations int) (secret, hash string, err error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	secret = base64.RawURLEncoding.EncodeToString(b)
	hash, err = access.Hash(secret, iterations)
	return secret, hash, err
}
