package iocd

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ioc-vn/ioc/internal/access"
	"github.com/ioc-vn/ioc/internal/auth"
	"github.com/ioc-vn/ioc/internal/provision"
	"github.com/ioc-vn/ioc/internal/registry"
)

// provisioning edits the registry and the credentials file when the
// configuration names the latter (nil: the admin routes answer 501).
func (s *Server) provisioning() *provision.Files {
	if s.cfg.Credentials == "" {
		return nil
	}
	return provision.New(s.cfg.Registry, s.cfg.Credentials)
}

// reloadIngest has ingest put the changed files in force: directly in the
// all-in-one, else by POSTing its reload URL if one is configured.
func (s *Server) reloadIngest() error {
	if s.o.ReloadIngest != nil {
		return s.o.ReloadIngest()
	}
	if s.cfg.IngestReloadURL == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.IngestReloadURL, nil)
	if err != nil {
		return fmt.Errorf("ingest reload: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("ingest reload: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("ingest reload: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// provisioned puts a provisioning change in force beyond the registry
// (which the API already swapped in): this server's integrator logins,
// then ingest.
func (s *Server) provisioned() error {
	s.loadAccounts(s.api.Registry())
	return s.reloadIngest()
}

// loadAccounts reads the credentials file, if configured, for the
// integrators' logins; a file that does not load keeps the accounts in
// force (ingest refuses it the same way).
func (s *Server) loadAccounts(reg *registry.Registry) {
	if s.cfg.Credentials == "" {
		return
	}
	p, err := access.Load(s.cfg.Credentials, reg)
	if err != nil {
		s.log.Warn("credentials not reloaded; integrators log in with the accounts in force", "err", err)
		return
	}
	s.accounts.Store(p)
}

// integratorLogin is auth.Accounts: an integrator's own account (not a
// device's, not a server's) logs in to its page with its secret, as role
// integrator. A disabled or removed account, or a rotated secret, ends
// its sessions at once (the session carries the hash's fingerprint).
func (s *Server) integratorLogin(username string) (auth.User, func(string) bool, bool) {
	p := s.accounts.Load()
	if p == nil {
		return auth.User{}, nil, false
	}
	a, ok := p.Account(username)
	if !ok || a.Disabled || a.Role != access.RoleIntegrator {
		return auth.User{}, nil, false
	}
	name := a.Integrator
	if in, ok := s.api.Registry().Integrator(a.Integrator); ok && in.Name != "" {
		name = in.Name
	}
	u := auth.User{Username: a.Username, Name: name, Role: auth.Integrator, Integrator: a.Integrator, PasswordHash: a.PasswordHash}
	return u, func(password string) bool { _, ok := p.Authenticate(username, []byte(password)); return ok }, true
}
