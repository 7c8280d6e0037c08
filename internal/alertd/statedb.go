package alertd

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// stateDB is the alert engine's own durable state, in SQLite next to the
// embedded store: the alerts (active, and resolved within the flap window),
// the open maintenance windows, the threshold and stuck rules' condition
// windows in progress, and an outbox of transitions not yet written to the
// time-series store. One transaction per group of
// transitions, so a restart resumes exactly where the engine was.
type stateDB struct {
	db *sql.DB
}

const stateSchema = `
CREATE TABLE IF NOT EXISTS alerts (
	id          TEXT PRIMARY KEY,
	active      INTEGER NOT NULL,
	resolved_at INTEGER NOT NULL, -- unix ns; 0 while active
	body        TEXT NOT NULL     -- alert.Alert as JSON
);
CREATE TABLE IF NOT EXISTS maintenance (
	target TEXT PRIMARY KEY,
	body   TEXT NOT NULL -- alert.Maintenance as JSON
);
CREATE TABLE IF NOT EXISTS windows (
	id   TEXT PRIMARY KEY, -- <rule>/<device>
	body TEXT NOT NULL     -- alert.Window as JSON
);
CREATE TABLE IF NOT EXISTS meta (
	key   TEXT PRIMARY KEY,
	value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS commissioned (
	device TEXT PRIMARY KEY, -- registered commissioning, gone live
	at     INTEGER NOT NULL, -- unix ns
	by     TEXT NOT NULL     -- "data" (its first message) or the operator
);
CREATE TABLE IF NOT EXISTS outbox (
	seq  INTEGER PRIMARY KEY,
	body TEXT NOT NULL -- record as JSON
);
`

func openStateDB(ctx context.Context, path string) (*stateDB, error) {
	// Owner-only whatever the umask; SQLite gives the -wal and -shm files
	// the database file's mode.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
		f.Close()
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("alert state %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, stateSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("alert state %s: %w", path, err)
	}
	return &stateDB{db: db}, nil
}

func (s *stateDB) Close() error { return s.db.Close() }

// load returns the saved alerts and maintenance windows, dropping resolved
// alerts older than keep.
func (s *stateDB) load(ctx context.Context, now time.Time, keep time.Duration) ([]alert.Alert, []alert.Maintenance, error) {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM alerts WHERE active = 0 AND resolved_at < ?`, now.Add(-keep).UnixNano()); err != nil {
		return nil, nil, fmt.Errorf("alert state: %w", err)
	}
	var (
		alerts []alert.Alert
		maint  []alert.Maintenance
	)
	rows, err := s.db.QueryContext(ctx, `SELECT body FROM alerts ORDER BY id`)
	if err != nil {
		return nil, nil, fmt.Errorf("alert state: %w", err)
	}
	for rows.Next() {
		var b []byte
		var a alert.Alert
		if err := rows.Scan(&b); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("alert state: %w", err)
		}
		if err := json.Unmarshal(b, &a); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("alert state: alert row: %w", err)
		}
		alerts = append(alerts, a)
	}
	rows.Close()
	rows, err = s.db.QueryContext(ctx, `SELECT body FROM maintenance ORDER BY target`)
	if err != nil {
		return nil, nil, fmt.Errorf("alert state: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		var m alert.Maintenance
		if err := rows.Scan(&b); err != nil {
			return nil, nil, fmt.Errorf("alert state: %w", err)
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, nil, fmt.Errorf("alert state: maintenance row: %w", err)
		}
		maint = append(maint, m)
	}
	return alerts, maint, rows.Err()
}

// loadWindows returns the saved condition windows.
func (s *stateDB) loadWindows(ctx context.Context) ([]alert.Window, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT body FROM windows ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("alert state: %w", err)
	}
	defer rows.Close()
	var out []alert.Window
	for rows.Next() {
		var b []byte
		var w alert.Window
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("alert state: %w", err)
		}
		if err := json.Unmarshal(b, &w); err != nil {
			return nil, fmt.Errorf("alert state: window row: %w", err)
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// replaceWindows makes the saved condition windows exactly ws (at start,
// after restoring: windows whose rule or device is gone are dropped).
func (s *stateDB) replaceWindows(ctx context.Context, ws []alert.Window) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("alert state: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM windows`); err != nil {
		return fmt.Errorf("alert state: windows: %w", err)
	}
	if err := saveWindows(ctx, tx, ws); err != nil {
		return err
	}
	return tx.Commit()
}

// saveWindows writes condition windows as they changed, in order: a
// window with a zero Since has closed.
func saveWindows(ctx context.Context, tx *sql.Tx, ws []alert.Window) error {
	if len(ws) == 0 {
		return nil
	}
	// Only a window's last change in the group matters: a reading that
	// hovers around a threshold opens and closes it many times per flush.
	last := make(map[string]int, len(ws))
	for i := range ws {
		last[ws[i].ID()] = i
	}
	del, err := tx.PrepareContext(ctx, `DELETE FROM windows WHERE id = ?`)
	if err != nil {
		return fmt.Errorf("alert state: windows: %w", err)
	}
	defer del.Close()
	upsert, err := tx.PrepareContext(ctx, `INSERT INTO windows (id, body) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body`)
	if err != nil {
		return fmt.Errorf("alert state: windows: %w", err)
	}
	defer upsert.Close()
	for i := range ws {
		w := &ws[i]
		id := w.ID()
		if last[id] != i {
			continue
		}
		var err error
		if w.Since.IsZero() {
			_, err = del.ExecContext(ctx, id)
		} else if b, jerr := json.Marshal(w); jerr != nil { // a value JSON cannot hold (NaN): the window restarts after a restart
			_, err = del.ExecContext(ctx, id)
		} else {
			_, err = upsert.ExecContext(ctx, id, b)
		}
		if err != nil {
			return fmt.Errorf("alert state: windows: %w", err)
		}
	}
	return nil
}

// apply saves a group of transitions and condition window changes in one
// transaction: the alerts' and maintenance windows' latest states, each
// record into the outbox, and the condition windows.
func (s *stateDB) apply(ctx context.Context, recs []record, ws []alert.Window) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("alert state: %w", err)
	}
	defer tx.Rollback()
	if err := saveWindows(ctx, tx, ws); err != nil {
		return err
	}
	for i := range recs {
		r := &recs[i]
		body, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (seq, body) VALUES (?, ?)`, r.Seq, body); err != nil {
			return fmt.Errorf("alert state: outbox: %w", err)
		}
		switch {
		case r.Maintenance != nil && r.Kind == string(alert.MaintenanceStarted):
			b, _ := json.Marshal(r.Maintenance)
			_, err = tx.ExecContext(ctx, `INSERT INTO maintenance (target, body) VALUES (?, ?) ON CONFLICT(target) DO UPDATE SET body = excluded.body`, r.Maintenance.Target, b)
		case r.Maintenance != nil:
			_, err = tx.ExecContext(ctx, `DELETE FROM maintenance WHERE target = ?`, r.Maintenance.Target)
		case r.Alert != nil:
			a := r.Alert
			b, _ := json.Marshal(a)
			active, resolved := 1, int64(0)
			if a.State != alert.Active {
				active, resolved = 0, a.ResolvedAt.UnixNano()
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO alerts (id, active, resolved_at, body) VALUES (?, ?, ?, ?)
				ON CONFLICT(id) DO UPDATE SET active = excluded.active, resolved_at = excluded.resolved_at, body = excluded.body`,
				a.ID, active, resolved, b)
		}
		if err != nil {
			return fmt.Errorf("alert state: %w", err)
		}
	}
	return tx.Commit()
}

// lastSeq is the highest sequence number ever given out (kept in the
// outbox, or 0 when the outbox is empty and the state new).
func (s *stateDB) lastSeq(ctx context.Context) (uint64, error) {
	var n sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(seq) FROM outbox`).Scan(&n); err != nil {
		return 0, fmt.Errorf("alert state: %w", err)
	}
	var m int64
	err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'seq'`).Scan(&m)
	if err != nil && err != sql.ErrNoRows {
		return 0, fmt.Errorf("alert state: %w", err)
	}
	return uint64(max(n.Int64, m)), nil
}

// pending returns up to n outbox records, oldest first.
func (s *stateDB) pending(ctx context.Context, n int) ([]record, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT body FROM outbox ORDER BY seq LIMIT ?`, n)
	if err != nil {
		return nil, fmt.Errorf("alert state: %w", err)
	}
	defer rows.Close()
	var out []record
	for rows.Next() {
		var b []byte
		var r record
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("alert state: %w", err)
		}
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("alert state: outbox row: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// done removes outbox records up to and including seq, remembering seq so
// numbering continues after the outbox empties.
func (s *stateDB) done(ctx context.Context, seq uint64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("alert state: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE seq <= ?`, seq); err != nil {
		return fmt.Errorf("alert state: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('seq', ?) ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)`, seq); err != nil {
		return fmt.Errorf("alert state: %w", err)
	}
	return tx.Commit()
}

// loadLive lists the commissioning devices that went live.
func (s *stateDB) loadLive(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT device FROM commissioned ORDER BY device`)
	if err != nil {
		return nil, fmt.Errorf("alert state: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("alert state: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// saveLive records commissioning devices gone live.
func (s *stateDB) saveLive(ctx context.Context, live []liveRecord) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("alert state: %w", err)
	}
	defer tx.Rollback()
	for _, l := range live {
		if _, err := tx.ExecContext(ctx, `INSERT INTO commissioned (device, at, by) VALUES (?, ?, ?) ON CONFLICT(device) DO NOTHING`,
			l.Device, l.At.UnixNano(), l.By); err != nil {
			return fmt.Errorf("alert state: commissioned: %w", err)
		}
	}
	return tx.Commit()
}

// replaceState replaces the saved alerts and maintenance windows with
// these (a takeover: the broker's retained state is the truth), dropping
// the condition windows, which were this process's own.
func (s *stateDB) replaceState(ctx context.Context, alerts []alert.Alert, maint []alert.Maintenance) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("alert state: %w", err)
	}
	defer tx.Rollback()
	for _, q := range []string{`DELETE FROM alerts`, `DELETE FROM maintenance`, `DELETE FROM windows`} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("alert state: %w", err)
		}
	}
	for i := range alerts {
		a := &alerts[i]
		b, _ := json.Marshal(a)
		active, resolved := 1, int64(0)
		if a.State != alert.Active {
			active, resolved = 0, a.ResolvedAt.UnixNano()
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO alerts (id, active, resolved_at, body) VALUES (?, ?, ?, ?)`, a.ID, active, resolved, b); err != nil {
			return fmt.Errorf("alert state: %w", err)
		}
	}
	for i := range maint {
		b, _ := json.Marshal(&maint[i])
		if _, err := tx.ExecContext(ctx, `INSERT INTO maintenance (target, body) VALUES (?, ?)`, maint[i].Target, b); err != nil {
			return fmt.Errorf("alert state: %w", err)
		}
	}
	return tx.Commit()
}
