package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// outbox is notify.db: the open incidents, the messages planned for them,
// and each (incident, recipient)'s thread reference.
//
// A message's state: pending (due at next_at) → sending (written before
// the channel is called) → sent, or back to pending with a later next_at,
// or failed. A message found sending at start was cut by a crash and may
// have been delivered: it is sent again under the same key.
type outbox struct{ db *sql.DB }

const outboxSchema = `
CREATE TABLE IF NOT EXISTS incidents (
	alert TEXT PRIMARY KEY, -- one open incident per alert
	body  TEXT NOT NULL     -- incident as JSON
);
CREATE TABLE IF NOT EXISTS messages (
	id        INTEGER PRIMARY KEY,
	key       TEXT NOT NULL UNIQUE, -- <incident>/<step>/<recipient>: planned once
	incident  TEXT NOT NULL,
	recipient TEXT NOT NULL,
	channel   TEXT NOT NULL,
	state     TEXT NOT NULL,        -- pending, sending, sent, failed
	attempts  INTEGER NOT NULL DEFAULT 0,
	created   INTEGER NOT NULL,     -- unix ns
	next_at   INTEGER NOT NULL,     -- unix ns
	done_at   INTEGER NOT NULL DEFAULT 0,
	error     TEXT NOT NULL DEFAULT '',
	ref       TEXT NOT NULL DEFAULT '',
	body      TEXT NOT NULL         -- Message as JSON
);
CREATE INDEX IF NOT EXISTS messages_due ON messages (channel, state, id);
CREATE INDEX IF NOT EXISTS messages_thread ON messages (incident, recipient, id);
CREATE TABLE IF NOT EXISTS threads (
	incident  TEXT NOT NULL,
	recipient TEXT NOT NULL,
	ref       TEXT NOT NULL, -- the channel's reference of the first message
	PRIMARY KEY (incident, recipient)
);
`

func openOutbox(ctx context.Context, path string) (*outbox, error) {
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
		f.Close()
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("notify outbox %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, outboxSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("notify outbox %s: %w", path, err)
	}
	return &outbox{db: db}, nil
}

func (o *outbox) Close() error { return o.db.Close() }

// row is one planned message.
type row struct {
	ID        int64
	Key       string
	Recipient string
	Channel   string
	State     string
	Attempts  int
	Created   time.Time
	NextAt    time.Time
	Error     string
	Msg       Message
}

// incidents loads the open incidents.
func (o *outbox) incidents(ctx context.Context) (map[string]*incident, error) {
	rows, err := o.db.QueryContext(ctx, `SELECT body FROM incidents`)
	if err != nil {
		return nil, fmt.Errorf("notify outbox: %w", err)
	}
	defer rows.Close()
	out := map[string]*incident{}
	for rows.Next() {
		var b []byte
		in := &incident{}
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("notify outbox: %w", err)
		}
		if err := json.Unmarshal(b, in); err != nil {
			return nil, fmt.Errorf("notify outbox: incident row: %w", err)
		}
		out[in.Alert.ID] = in
	}
	return out, rows.Err()
}

// save writes the incidents changed (removing those over) and the
// messages planned, in one transaction. A message whose key exists is
// not planned again.
func (o *outbox) save(ctx context.Context, changed []*incident, over []string, msgs []row) (int, error) {
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("notify outbox: %w", err)
	}
	defer tx.Rollback()
	for _, in := range changed {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO incidents (alert, body) VALUES (?, ?) ON CONFLICT(alert) DO UPDATE SET body = excluded.body`, in.Alert.ID, b); err != nil {
			return 0, fmt.Errorf("notify outbox: %w", err)
		}
	}
	for _, id := range over {
		if _, err := tx.ExecContext(ctx, `DELETE FROM incidents WHERE alert = ?`, id); err != nil {
			return 0, fmt.Errorf("notify outbox: %w", err)
		}
	}
	added := 0
	for i := range msgs {
		m := &msgs[i]
		b, err := json.Marshal(&m.Msg)
		if err != nil {
			return 0, err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO messages (key, incident, recipient, channel, state, created, next_at, body)
			VALUES (?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT(key) DO NOTHING`,
			m.Key, m.Msg.Incident, m.Recipient, m.Channel, m.Created.UnixNano(), m.Created.UnixNano(), b)
		if err != nil {
			return 0, fmt.Errorf("notify outbox: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			added++
		}
	}
	return added, tx.Commit()
}

// next returns channel's oldest message due at now whose earlier messages
// to the same recipient about the same incident are done (sent or
// failed), so updates follow their first message. ok is false when none
// is due; then wake is when the earliest becomes due (zero: none).
func (o *outbox) next(ctx context.Context, channel string, now time.Time) (r row, ok bool, wake time.Time, err error) {
	var body []byte
	var created, nextAt int64
	err = o.db.QueryRowContext(ctx, `SELECT m.id, m.key, m.recipient, m.state, m.attempts, m.created, m.next_at, m.body FROM messages m
		WHERE m.channel = ? AND m.state IN ('pending', 'sending') AND m.next_at <= ?
		AND NOT EXISTS (SELECT 1 FROM messages e WHERE e.incident = m.incident AND e.recipient = m.recipient AND e.id < m.id AND e.state IN ('pending', 'sending'))
		ORDER BY m.id LIMIT 1`, channel, now.UnixNano()).
		Scan(&r.ID, &r.Key, &r.Recipient, &r.State, &r.Attempts, &created, &nextAt, &body)
	if errors.Is(err, sql.ErrNoRows) {
		var w sql.NullInt64
		err = o.db.QueryRowContext(ctx, `SELECT MIN(next_at) FROM messages WHERE channel = ? AND state IN ('pending', 'sending')`, channel).Scan(&w)
		if err == nil && w.Valid && w.Int64 > now.UnixNano() {
			wake = time.Unix(0, w.Int64)
		}
		return r, false, wake, err
	}
	if err != nil {
		return r, false, time.Time{}, fmt.Errorf("notify outbox: %w", err)
	}
	r.Channel, r.Created, r.NextAt = channel, time.Unix(0, created), time.Unix(0, nextAt)
	if err := json.Unmarshal(body, &r.Msg); err != nil {
		return r, false, time.Time{}, fmt.Errorf("notify outbox: message row: %w", err)
	}
	var ref string
	err = o.db.QueryRowContext(ctx, `SELECT ref FROM threads WHERE incident = ? AND recipient = ?`, r.Msg.Incident, r.Recipient).Scan(&ref)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return r, false, time.Time{}, fmt.Errorf("notify outbox: %w", err)
	}
	r.Msg.ReplyTo = ref
	return r, true, time.Time{}, nil
}

// sending records that id is about to be sent (and is uncertain until
// sent or retried).
func (o *outbox) sending(ctx context.Context, id int64) error {
	_, err := o.db.ExecContext(ctx, `UPDATE messages SET state = 'sending', attempts = attempts + 1 WHERE id = ?`, id)
	return err
}

// sent records a delivered message and, for an incident's first message
// to its recipient, the reference the next ones reply to.
func (o *outbox) sent(ctx context.Context, r *row, ref string, now time.Time) error {
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE messages SET state = 'sent', done_at = ?, ref = ?, error = '' WHERE id = ?`, now.UnixNano(), ref, r.ID); err != nil {
		return err
	}
	if ref != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO threads (incident, recipient, ref) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, r.Msg.Incident, r.Recipient, ref); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// retry puts a message back, due at at.
func (o *outbox) retry(ctx context.Context, id int64, at time.Time, why string) error {
	_, err := o.db.ExecContext(ctx, `UPDATE messages SET state = 'pending', next_at = ?, error = ? WHERE id = ?`, at.UnixNano(), why, id)
	return err
}

// fail gives up on a message.
func (o *outbox) fail(ctx context.Context, id int64, now time.Time, why string) error {
	_, err := o.db.ExecContext(ctx, `UPDATE messages SET state = 'failed', done_at = ?, error = ? WHERE id = ?`, now.UnixNano(), why, id)
	return err
}

// recover turns messages cut mid-send by a crash back to pending, and
// says how many there were.
func (o *outbox) recover(ctx context.Context) (int, error) {
	res, err := o.db.ExecContext(ctx, `UPDATE messages SET state = 'pending' WHERE state = 'sending'`)
	if err != nil {
		return 0, fmt.Errorf("notify outbox: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// requeue sends failed messages again (all, or the one with key).
func (o *outbox) requeue(ctx context.Context, key string, now time.Time) (int, error) {
	q, args := `UPDATE messages SET state = 'pending', next_at = ?, created = ?, attempts = 0 WHERE state = 'failed'`, []any{now.UnixNano(), now.UnixNano()}
	if key != "" {
		q += ` AND key = ?`
		args = append(args, key)
	}
	res, err := o.db.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// prune forgets messages done before cut, and threads of incidents with
// no message left.
func (o *outbox) prune(ctx context.Context, cut time.Time) error {
	if _, err := o.db.ExecContext(ctx, `DELETE FROM messages WHERE state IN ('sent', 'failed') AND done_at < ?`, cut.UnixNano()); err != nil {
		return err
	}
	_, err := o.db.ExecContext(ctx, `DELETE FROM threads WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.incident = threads.incident)
		AND NOT EXISTS (SELECT 1 FROM incidents i WHERE json_extract(i.body, '$.key') = threads.incident)`)
	return err
}

// counts returns the number of messages per state.
func (o *outbox) counts(ctx context.Context) (map[string]int, error) {
	rows, err := o.db.QueryContext(ctx, `SELECT state, COUNT(*) FROM messages GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{"pending": 0, "sending": 0, "sent": 0, "failed": 0}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}

// list returns up to n messages in state, newest first.
func (o *outbox) list(ctx context.Context, state string, n int) ([]row, error) {
	rows, err := o.db.QueryContext(ctx, `SELECT id, key, recipient, channel, state, attempts, created, next_at, error, body FROM messages
		WHERE state = ? ORDER BY id DESC LIMIT ?`, state, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []row
	for rows.Next() {
		var r row
		var created, next int64
		var body []byte
		if err := rows.Scan(&r.ID, &r.Key, &r.Recipient, &r.Channel, &r.State, &r.Attempts, &created, &next, &r.Error, &body); err != nil {
			return nil, err
		}
		r.Created, r.NextAt = time.Unix(0, created), time.Unix(0, next)
		_ = json.Unmarshal(body, &r.Msg)
		out = append(out, r)
	}
	return out, rows.Err()
}
