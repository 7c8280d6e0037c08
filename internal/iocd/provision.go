package iocd

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ioc-vn/ioc/internal/provision"
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
