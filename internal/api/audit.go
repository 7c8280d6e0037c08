package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"
)

// AuditEntry is one line of the audit log: who did what, from where.
type AuditEntry struct {
	At time.Time `json:"at"`
	// Action is login, login_failed, login_limited, logout, ack, resolve,
	// maintenance_start, maintenance_end, reload, kiosk_enrol,
	// kiosk_revoke, kiosk_login, kiosk_login_failed, kiosk_login_limited;
	// provisioning's integrator_add, integrator_delete,
	// integrator_disable, integrator_enable, device_add, device_delete,
	// device_disable, device_enable, secret_integrator, secret_device,
	// devices_import.
	Action string `json:"action"`
	User   string `json:"user"`
	IP     string `json:"ip"`
	Alert  string `json:"alert,omitempty"`
	Target string `json:"target,omitempty"`
	Note   string `json:"note,omitempty"`
	Result string `json:"result,omitempty"`
}

// Audit appends entries to a JSON-lines file (one write per entry, opened
// O_APPEND) and to the log. Acknowledgements and resolutions are also in
// the alert history the alert service writes to the store, with who and
// the note, shared by every IOC server.
type Audit struct {
	path string
	log  *slog.Logger
	now  func() time.Time

	mu sync.Mutex
	f  *os.File
}

// OpenAudit opens (creating) the audit log at path.
func OpenAudit(path string, log *slog.Logger, now func() time.Time) (*Audit, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Audit{path: path, log: log, now: now, f: f}, nil
}

// Record writes e, stamped now.
func (a *Audit) Record(e AuditEntry) {
	e.At = a.now().UTC()
	b, _ := json.Marshal(e)
	b = append(b, '\n')
	a.mu.Lock()
	_, err := a.f.Write(b)
	if err == nil {
		err = a.f.Sync()
	}
	a.mu.Unlock()
	a.log.Info("audit", "action", e.Action, "user", e.User, "ip", e.IP, "alert", e.Alert, "target", e.Target, "result", e.Result)
	if err != nil {
		a.log.Error("audit log write failed", "path", a.path, "err", err)
	}
}

// maxAuditTail bounds how much of the file Tail reads.
const maxAuditTail = 1 << 20

// Tail returns up to n of the latest entries, newest first.
func (a *Audit) Tail(n int) ([]AuditEntry, error) {
	f, err := os.Open(a.path)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := max(st.Size()-maxAuditTail, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	if err != nil {
		return nil, err
	}
	if off > 0 { // skip the partial first line
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	var all []AuditEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		var e AuditEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			all = append(all, e)
		}
	}
	out := make([]AuditEntry, 0, min(n, len(all)))
	for i := len(all) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, all[i])
	}
	return out, nil
}

// Close closes the file.
func (a *Audit) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.f.Close()
}
