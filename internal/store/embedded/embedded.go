// Package embedded is the store used when no InfluxDB is configured: SQLite
// in one file, through modernc.org/sqlite (pure Go, so the binary needs no
// C toolchain and runs on a fresh machine).
//
// Schema: a series row per (device, measurement, tag set) and a sample row
// per (series, time, field). The sample key makes a rewrite of the same
// point an upsert, matching InfluxDB's last-write-wins, so redelivered
// messages never double-count. WAL with synchronous=FULL: a committed write
// survives a process or power loss, which is what lets ingest acknowledge
// (with the embedded store there is no spool in front: the store's commit is
// the acknowledgement's promise, so NORMAL, which may lose the last
// transactions on a power cut, is not an option).
//
// One writer connection with its statements prepared once, samples inserted
// many rows per statement, series ids and field kinds cached; reads (the
// wall's history, the API) on a pool of their own, so a long query never
// holds the connection a write needs.
package embedded

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/store"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

const schema = `
CREATE TABLE IF NOT EXISTS series (
	id          INTEGER PRIMARY KEY,
	device      TEXT NOT NULL,
	measurement TEXT NOT NULL,
	tags        TEXT NOT NULL, -- JSON [[key, value], ...] sorted by key
	UNIQUE (device, measurement, tags)
);
CREATE TABLE IF NOT EXISTS samples (
	series INTEGER NOT NULL REFERENCES series(id),
	ts     INTEGER NOT NULL, -- unix nanoseconds
	field  TEXT    NOT NULL,
	kind   INTEGER NOT NULL, -- point.Kind
	value,        -- no declared type: kept exactly as written ("ANY" outside a STRICT table
	              -- has numeric affinity and would turn the string "0123" into 123)
	PRIMARY KEY (series, ts, field)
) WITHOUT ROWID;
-- A field's type is fixed per measurement, as in InfluxDB (per shard there).
CREATE TABLE IF NOT EXISTS fields (
	measurement TEXT    NOT NULL,
	field       TEXT    NOT NULL,
	kind        INTEGER NOT NULL,
	PRIMARY KEY (measurement, field)
) WITHOUT ROWID;
-- Hourly rollups of numeric samples (retention.go): kept after the raw
-- samples expire, so history stays available at hour resolution.
CREATE TABLE IF NOT EXISTS rollups (
	series INTEGER NOT NULL,
	hour   INTEGER NOT NULL, -- unix nanoseconds of the hour's start
	field  TEXT    NOT NULL,
	n      INTEGER NOT NULL,
	sum    REAL    NOT NULL,
	min    REAL    NOT NULL,
	max    REAL    NOT NULL,
	PRIMARY KEY (series, hour, field)
) WITHOUT ROWID;
-- Hours written since they were last rolled up.
CREATE TABLE IF NOT EXISTS dirty_hours (hour INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
`

// Store is an SQLite-backed store.Store.
type Store struct {
	db   *sql.DB // the one writer connection
	read *sql.DB // readers
	st   writeStmts

	mu sync.Mutex // serialises writers; SQLite has one writer at a time
	// Caches of committed rows, bounded: series and field names come from
	// devices, so a map of every one ever seen would grow without end. A
	// miss costs one indexed lookup (series: an upsert returning the id).
	series *lru.Cache[string, int64]
	kinds  *lru.Cache[string, point.Kind] // measurement "\x00" field
	// Buffers reused by Write (under mu).
	key  []byte
	rows []any
}

// seriesKey appends p's series key (device, measurement, tags, each
// length-prefixed so no value can pass for another) to dst: the cache's
// key, built without encoding the tags as the database stores them.
func seriesKey(dst []byte, dev string, p *point.Point) []byte {
	add := func(s string) {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	add(dev)
	add(p.Measurement)
	for _, t := range p.Tags {
		add(t.Key)
		add(t.Value)
	}
	return dst
}

// CacheSize bounds each of the store's caches (series ids, field kinds):
// the province's devices have a few series each, so 100,000 keeps every
// live series of a large site in memory at about 10 MB.
const CacheSize = 100_000

var _ store.Store = (*Store)(nil)

// Open opens or creates the database file at path.
func Open(ctx context.Context, path string) (*Store, error) {
	// Owner-only whatever the umask; SQLite gives the -wal and -shm files
	// the database file's mode.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
		f.Close()
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(OFF)"
	// The writer's page cache holds a whole batch's pages (32 MiB instead
	// of 2), so SQLite does not spill pages to the WAL in the middle of a
	// transaction; statement journals stay in memory.
	db, err := sql.Open("sqlite", dsn+"&_pragma=cache_size(-32768)&_pragma=temp_store(MEMORY)")
	if err != nil {
		return nil, fmt.Errorf("open embedded store %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create embedded store schema in %s: %w", path, err)
	}
	st, err := prepare(ctx, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("embedded store %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open embedded store %s: %w", path, err)
	}
	read.SetMaxOpenConns(4)
	series, err := lru.New[string, int64](CacheSize)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("embedded store: series cache: %w", err)
	}
	kinds, err := lru.New[string, point.Kind](CacheSize)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("embedded store: field cache: %w", err)
	}
	return &Store{db: db, read: read, st: st, series: series, kinds: kinds}, nil
}

// sampleRows is how many samples one INSERT carries at most; a batch's
// rest goes in statements of 32, 16, ... 1 rows. 64 rows of 5 values stay
// far below SQLite's 32,766 bound on a statement's parameters.
const sampleRows = 64

// writeStmts are the writer connection's statements, prepared once.
type writeStmts struct {
	series, getKind, insKind, dirty *sql.Stmt
	samples                         map[int]*sql.Stmt // rows per statement: 64, 32, ... 1
}

func prepare(ctx context.Context, db *sql.DB) (writeStmts, error) {
	var st writeStmts
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = db.PrepareContext(ctx, q)
		if err != nil {
			err = fmt.Errorf("prepare: %w", err)
		}
		return s
	}
	st.series = prep(`INSERT INTO series (device, measurement, tags) VALUES (?, ?, ?)
		ON CONFLICT (device, measurement, tags) DO UPDATE SET device = excluded.device RETURNING id`)
	st.getKind = prep(`SELECT kind FROM fields WHERE measurement = ? AND field = ?`)
	st.insKind = prep(`INSERT INTO fields (measurement, field, kind) VALUES (?, ?, ?)`)
	st.dirty = prep(`INSERT OR IGNORE INTO dirty_hours (hour) VALUES (?)`)
	st.samples = map[int]*sql.Stmt{}
	for n := sampleRows; n >= 1; n /= 2 {
		q := `INSERT INTO samples (series, ts, field, kind, value) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?), ", n), ", ") +
			` ON CONFLICT (series, ts, field) DO UPDATE SET kind = excluded.kind, value = excluded.value`
		st.samples[n] = prep(q)
	}
	return st, err
}

func deviceOf(p *point.Point) string {
	v, _ := p.Tag("device")
	return v
}

func encodeTags(tags []point.Tag) string {
	pairs := make([][2]string, len(tags))
	for i, t := range tags {
		pairs[i] = [2]string{t.Key, t.Value}
	}
	b, _ := json.Marshal(pairs) // strings always marshal
	return string(b)
}

func decodeTags(s string) ([]point.Tag, error) {
	var pairs [][2]string
	if err := json.Unmarshal([]byte(s), &pairs); err != nil {
		return nil, err
	}
	tags := make([]point.Tag, len(pairs))
	for i, p := range pairs {
		tags[i] = point.Tag{Key: p[0], Value: p[1]}
	}
	return tags, nil
}

// Write stores pts in one transaction.
func (s *Store) Write(ctx context.Context, pts []point.Point) error {
	if len(pts) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("embedded store: begin: %w", err)
	}
	defer tx.Rollback()
	// The statements were prepared on the one writer connection, which
	// the transaction runs on: StmtContext reuses them.
	stmt := func(st *sql.Stmt) *sql.Stmt { return tx.StmtContext(ctx, st) }
	var getKind, insKind, insSeries *sql.Stmt
	rows := s.rows[:0] // samples waiting for a multi-row insert, 5 values each
	flushRows := func(all bool) error {
		for n := sampleRows; n >= 1 && len(rows) > 0; n /= 2 {
			for len(rows) >= 5*n && (all || n == sampleRows) {
				if _, err := stmt(s.st.samples[n]).ExecContext(ctx, rows[:5*n]...); err != nil {
					return fmt.Errorf("embedded store: samples: %w", err)
				}
				rows = append(rows[:0], rows[5*n:]...)
			}
		}
		return nil
	}
	defer func() { clear(rows); s.rows = rows[:0] }()
	var hours []int64 // distinct hours written, usually one
	addHour := func(ts int64) {
		h := hourOf(ts)
		for _, x := range hours {
			if x == h {
				return
			}
		}
		hours = append(hours, h)
	}
	created := map[string]int64{}
	newKinds := map[string]point.Kind{}
	kindOf := func(m, f string) (point.Kind, bool, error) {
		key := m + "\x00" + f
		if k, ok := s.kinds.Get(key); ok {
			return k, true, nil
		}
		if k, ok := newKinds[key]; ok {
			return k, true, nil
		}
		var k int
		if getKind == nil {
			getKind = stmt(s.st.getKind)
		}
		switch err := getKind.QueryRowContext(ctx, m, f).Scan(&k); {
		case errors.Is(err, sql.ErrNoRows):
			return 0, false, nil
		case err != nil:
			return 0, false, fmt.Errorf("embedded store: field kind: %w", err)
		}
		s.kinds.Add(key, point.Kind(k)) // committed earlier: safe to cache now
		return point.Kind(k), true, nil
	}
	for i := range pts {
		p := &pts[i]
		dev := deviceOf(p)
		s.key = seriesKey(s.key[:0], dev, p)
		key := string(s.key)
		id, ok := s.series.Get(key)
		if !ok {
			if id, ok = created[key]; !ok {
				if insSeries == nil {
					insSeries = stmt(s.st.series)
				}
				if err := insSeries.QueryRowContext(ctx, dev, p.Measurement, encodeTags(p.Tags)).Scan(&id); err != nil {
					return fmt.Errorf("embedded store: series: %w", err)
				}
				created[key] = id
			}
		}
		ts := p.Time.UnixNano()
		addHour(ts)
		for _, f := range p.Fields {
			k, known, err := kindOf(p.Measurement, f.Key)
			if err != nil {
				return err
			}
			if known && k != f.Kind {
				return &store.RejectedError{Err: fmt.Errorf("field type conflict: %s.%s is %s, point at %s has %s",
					p.Measurement, f.Key, k, p.Time.UTC().Format(time.RFC3339Nano), f.Kind)}
			}
			if !known {
				if insKind == nil {
					insKind = stmt(s.st.insKind)
				}
				if _, err := insKind.ExecContext(ctx, p.Measurement, f.Key, int(f.Kind)); err != nil {
					return fmt.Errorf("embedded store: field kind: %w", err)
				}
				newKinds[p.Measurement+"\x00"+f.Key] = f.Kind
			}
			var v any
			switch f.Kind {
			case point.Float:
				v = f.F
			case point.Int:
				v = f.I
			case point.String:
				v = f.S
			case point.Bool:
				v = f.B
			}
			rows = append(rows, id, ts, f.Key, int64(f.Kind), v)
			if len(rows) >= 5*sampleRows {
				if err := flushRows(false); err != nil {
					return err
				}
			}
		}
	}
	if err := flushRows(true); err != nil {
		return err
	}
	for _, h := range hours {
		if _, err := stmt(s.st.dirty).ExecContext(ctx, h); err != nil {
			return fmt.Errorf("embedded store: dirty hour: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("embedded store: commit: %w", err)
	}
	for k, id := range created {
		s.series.Add(k, id)
	}
	for k, kind := range newKinds {
		s.kinds.Add(k, kind)
	}
	return nil
}

// Query implements store.Store.
func (s *Store) Query(ctx context.Context, q store.Query) ([]point.Point, error) {
	where := `s.device = ? AND x.ts >= ? AND x.ts < ?`
	args := []any{q.Device, q.From.UnixNano(), q.To.UnixNano()}
	if q.Measurement != "" {
		where += ` AND s.measurement = ?`
		args = append(args, q.Measurement)
	}
	return s.points(ctx, where, args, 0)
}

// Scan implements store.Store.
func (s *Store) Scan(ctx context.Context, q store.ScanQuery) ([]point.Point, error) {
	if q.Measurement == "" || q.Limit <= 0 {
		return nil, errors.New("embedded store: scan needs a measurement and a limit")
	}
	return s.points(ctx, `s.measurement = ? AND x.ts >= ? AND x.ts < ?`,
		[]any{q.Measurement, q.From.UnixNano(), q.To.UnixNano()}, q.Limit)
}

// points reads the samples matching where (over series s and samples x)
// as points; limit, if positive, bounds the points.
func (s *Store) points(ctx context.Context, where string, args []any, limit int) ([]point.Point, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT s.measurement, s.tags, x.ts, x.field, x.kind, x.value
		FROM series s JOIN samples x ON x.series = s.id
		WHERE `+where+` ORDER BY x.ts, s.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("embedded store: query: %w", err)
	}
	defer rows.Close()
	var (
		out     []point.Point
		lastKey string
	)
	for rows.Next() {
		var (
			m, tags, field string
			ts             int64
			kind           int
			v              any
		)
		if err := rows.Scan(&m, &tags, &ts, &field, &kind, &v); err != nil {
			return nil, fmt.Errorf("embedded store: scan: %w", err)
		}
		key := fmt.Sprint(ts, "\x00", m, "\x00", tags)
		if key != lastKey || len(out) == 0 {
			if limit > 0 && len(out) == limit {
				return nil, fmt.Errorf("embedded store: scan: %w (%d)", store.ErrTooMany, limit)
			}
			t, err := decodeTags(tags)
			if err != nil {
				return nil, fmt.Errorf("embedded store: series tags %q: %w", tags, err)
			}
			out = append(out, point.Point{Measurement: m, Tags: t, Time: time.Unix(0, ts)})
			lastKey = key
		}
		f, err := decodeField(field, point.Kind(kind), v)
		if err != nil {
			return nil, err
		}
		p := &out[len(out)-1]
		p.Fields = append(p.Fields, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("embedded store: query: %w", err)
	}
	store.Normalize(out)
	return out, nil
}

// FirstSeen implements store.Store: per series, the first sample (one
// index seek on the samples' primary key) or the first hourly rollup,
// whichever is earlier.
func (s *Store) FirstSeen(ctx context.Context, before time.Time) (map[string]time.Time, error) {
	return s.deviceTimes(ctx, "first seen", `SELECT device, MIN(t) FROM (
		SELECT s.device, (SELECT MIN(x.ts) FROM samples x WHERE x.series = s.id) AS t FROM series s WHERE s.device != ''
		UNION ALL
		SELECT s.device, (SELECT MIN(r.hour) FROM rollups r WHERE r.series = s.id) AS t FROM series s WHERE s.device != ''
	) WHERE t IS NOT NULL GROUP BY device HAVING MIN(t) < ?`, before.UnixNano())
}

// LastSeen implements store.Store: per series of the device's own
// measurements, the last sample (one index seek) or the last hourly
// rollup, whichever is later.
func (s *Store) LastSeen(ctx context.Context) (map[string]time.Time, error) {
	return s.deviceTimes(ctx, "last seen", `SELECT device, MAX(t) FROM (
		SELECT s.device, (SELECT MAX(x.ts) FROM samples x WHERE x.series = s.id) AS t FROM series s
			WHERE s.device != '' AND s.measurement NOT IN (?, ?)
		UNION ALL
		SELECT s.device, (SELECT MAX(r.hour) FROM rollups r WHERE r.series = s.id) AS t FROM series s
			WHERE s.device != '' AND s.measurement NOT IN (?, ?)
	) WHERE t IS NOT NULL GROUP BY device`, historyAlert, historyMaintenance, historyAlert, historyMaintenance)
}

// deviceTimes runs query, whose rows are (device, unix nanoseconds), on
// the readers (never the writer's connection: a scan of every series
// must not hold up ingest) and returns them by device.
func (s *Store) deviceTimes(ctx context.Context, what, query string, args ...any) (map[string]time.Time, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("embedded store: %s: %w", what, err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var (
			dev string
			ts  int64
		)
		if err := rows.Scan(&dev, &ts); err != nil {
			return nil, fmt.Errorf("embedded store: %s: %w", what, err)
		}
		out[dev] = time.Unix(0, ts)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("embedded store: %s: %w", what, err)
	}
	return out, nil
}

// The alert service's history measurements (payload.MeasurementAlert and
// MeasurementMaintenance): tagged with a device, but not its data.
const (
	historyAlert       = "alert"
	historyMaintenance = "maintenance"
)

func decodeField(key string, k point.Kind, v any) (point.Field, error) {
	f := point.Field{Key: key, Kind: k}
	switch k {
	case point.Float:
		switch x := v.(type) {
		case float64:
			f.F = x
		case int64: // SQLite stores integral REALs compactly
			f.F = float64(x)
		default:
			return f, fmt.Errorf("embedded store: field %s: float stored as %T", key, v)
		}
	case point.Int:
		x, ok := v.(int64)
		if !ok {
			return f, fmt.Errorf("embedded store: field %s: int stored as %T", key, v)
		}
		f.I = x
	case point.String:
		switch x := v.(type) {
		case string:
			f.S = x
		case []byte:
			f.S = string(x)
		default:
			return f, fmt.Errorf("embedded store: field %s: string stored as %T", key, v)
		}
	case point.Bool:
		x, ok := v.(int64)
		if !ok {
			return f, fmt.Errorf("embedded store: field %s: bool stored as %T", key, v)
		}
		f.B = x != 0
	default:
		return f, errors.New("embedded store: unknown field kind")
	}
	return f, nil
}

// Aggregate implements store.Store: one GROUP BY over the device's numeric
// samples, windows aligned to the epoch (as Flux's aggregateWindow). Where
// retention has removed the raw samples, whole-hour windows come from the
// hourly rollups; shorter windows there are empty.
func (s *Store) Aggregate(ctx context.Context, q store.AggregateQuery) ([]store.Series, error) {
	if q.Every <= 0 {
		return nil, errors.New("embedded store: aggregate: window must be positive")
	}
	every := int64(q.Every)
	from, to := q.From.UnixNano(), q.To.UnixNano()
	cut, err := s.rawCut(ctx)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	var args []any
	b.WriteString(`SELECT measurement, field, (t / ?) * ? AS w, 1.0 * SUM(sum) / SUM(n) FROM (`)
	args = append(args, every, every)
	// Before the raw cut only hourly rollups remain: whole-hour windows
	// are computed from them (sums and counts, so the means are exact).
	if from < cut && every%int64(time.Hour) == 0 {
		b.WriteString(`SELECT s.measurement, r.field, r.hour AS t, r.n, r.sum
			FROM series s JOIN rollups r ON r.series = s.id
			WHERE s.device = ? AND r.hour >= ? AND r.hour < ?`)
		args = append(args, q.Device, hourOf(from), min(to, cut))
		if q.Measurement != "" {
			b.WriteString(` AND s.measurement = ?`)
			args = append(args, q.Measurement)
		}
		b.WriteString(` UNION ALL `)
	}
	b.WriteString(`SELECT s.measurement, x.field, x.ts AS t, 1 AS n, x.value AS sum
		FROM series s JOIN samples x ON x.series = s.id
		WHERE s.device = ? AND x.ts >= ? AND x.ts < ? AND x.kind IN (?, ?)`)
	args = append(args, q.Device, max(from, cut), to, int(point.Float), int(point.Int))
	if q.Measurement != "" {
		b.WriteString(` AND s.measurement = ?`)
		args = append(args, q.Measurement)
	}
	b.WriteString(`) GROUP BY measurement, field, w ORDER BY measurement, field, w`)
	rows, err := s.read.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("embedded store: aggregate: %w", err)
	}
	defer rows.Close()
	var out []store.Series
	for rows.Next() {
		var (
			m, field string
			w        int64
			mean     float64
		)
		if err := rows.Scan(&m, &field, &w, &mean); err != nil {
			return nil, fmt.Errorf("embedded store: aggregate scan: %w", err)
		}
		if n := len(out); n == 0 || out[n-1].Measurement != m || out[n-1].Field != field {
			out = append(out, store.Series{Measurement: m, Field: field})
		}
		last := &out[len(out)-1]
		last.Samples = append(last.Samples, store.Sample{Time: time.Unix(0, w).UTC(), Mean: mean})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("embedded store: aggregate: %w", err)
	}
	store.SortSeries(out)
	return out, nil
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error { return s.read.PingContext(ctx) }

// Close implements store.Store.
func (s *Store) Close() error { return errors.Join(s.read.Close(), s.db.Close()) }
