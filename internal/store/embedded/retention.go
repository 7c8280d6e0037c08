package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
)

// Retention is how long the embedded store keeps raw samples and their
// hourly rollups; zero keeps them forever.
type Retention struct {
	Raw    time.Duration `yaml:"raw_retention"`
	Rollup time.Duration `yaml:"rollup_retention"`
}

// Validate reports a rollup retention shorter than the raw one.
func (r Retention) Validate() error {
	if r.Raw < 0 || r.Rollup < 0 {
		return errors.New("embedded_store: retentions must not be negative")
	}
	if r.Raw > 0 && r.Raw < 2*time.Hour {
		return fmt.Errorf("embedded_store.raw_retention %s: use at least 2h (0 keeps raw samples forever)", r.Raw)
	}
	if r.Rollup > 0 && (r.Raw == 0 || r.Rollup < r.Raw) {
		return fmt.Errorf("embedded_store.rollup_retention %s: must be at least raw_retention %s (0 keeps rollups forever)", r.Rollup, r.Raw)
	}
	return nil
}

const hour = int64(time.Hour)

func hourOf(ts int64) int64 {
	h := ts / hour * hour
	if ts < 0 && ts%hour != 0 {
		h -= hour
	}
	return h
}

// MaintainStats is what one Maintain did.
type MaintainStats struct {
	HoursRolledUp  int
	RawDeleted     int64
	RollupsDeleted int64
	RawCut         time.Time // raw samples before this are gone
}

// Maintain rolls up every complete hour written since the last call into
// hourly sums, counts, minima and maxima per series and field, then
// deletes raw samples older than r.Raw and rollups older than r.Rollup.
// Raw samples are deleted only once their hour is rolled up, and a late
// sample for an hour whose raw samples are gone is added to that hour's
// rollup, so no numeric reading is lost from history before its rollup
// expires. Run it periodically (ingest does, every few minutes).
func (s *Store) Maintain(ctx context.Context, now time.Time, r Retention) (MaintainStats, error) {
	var st MaintainStats
	current := hourOf(now.UnixNano())
	cut, err := s.rawCut(ctx)
	if err != nil {
		return st, err
	}
	rows, err := s.read.QueryContext(ctx, `SELECT hour FROM dirty_hours WHERE hour < ? ORDER BY hour`, current)
	if err != nil {
		return st, fmt.Errorf("embedded store: maintain: %w", err)
	}
	var dirty []int64
	for rows.Next() {
		var h int64
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return st, fmt.Errorf("embedded store: maintain: %w", err)
		}
		dirty = append(dirty, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("embedded store: maintain: %w", err)
	}
	for _, h := range dirty {
		if err := s.rollUp(ctx, h, h < cut); err != nil {
			return st, err
		}
		st.HoursRolledUp++
	}
	if r.Raw > 0 {
		newCut := hourOf(now.Add(-r.Raw).UnixNano())
		if newCut > cut {
			n, err := s.deleteBefore(ctx, "samples", "ts", newCut)
			if err != nil {
				return st, err
			}
			st.RawDeleted = n
			if _, err := s.db.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('raw_cut', ?)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value`, newCut); err != nil {
				return st, fmt.Errorf("embedded store: maintain: %w", err)
			}
			cut = newCut
		}
	}
	if r.Rollup > 0 {
		n, err := s.deleteBefore(ctx, "rollups", "hour", hourOf(now.Add(-r.Rollup).UnixNano()))
		if err != nil {
			return st, err
		}
		st.RollupsDeleted = n
	}
	if cut > 0 {
		st.RawCut = time.Unix(0, cut).UTC()
	}
	return st, nil
}

// rollUp computes hour h's rollups from its raw samples. When the hour's
// raw samples had already expired (late), the samples now there are late
// arrivals: they are added to the rollup and deleted.
func (s *Store) rollUp(ctx context.Context, h int64, late bool) error {
	s.mu.Lock() // no write may slip between reading the hour and clearing its mark
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("embedded store: roll up: %w", err)
	}
	defer tx.Rollback()
	agg := `SELECT x.series, ?, x.field, COUNT(*), SUM(x.value), MIN(x.value), MAX(x.value)
		FROM series s JOIN samples x ON x.series = s.id
		WHERE x.ts >= ? AND x.ts < ? AND x.kind IN (?, ?) GROUP BY x.series, x.field`
	args := []any{h, h, h + hour, int(point.Float), int(point.Int)}
	if late {
		_, err = tx.ExecContext(ctx, `INSERT INTO rollups (series, hour, field, n, sum, min, max) `+agg+`
			ON CONFLICT (series, hour, field) DO UPDATE SET n = n + excluded.n, sum = sum + excluded.sum,
			min = MIN(min, excluded.min), max = MAX(max, excluded.max)`, args...)
		if err == nil {
			_, err = tx.ExecContext(ctx, `DELETE FROM samples WHERE series IN (SELECT id FROM series) AND ts >= ? AND ts < ?`, h, h+hour)
		}
	} else {
		_, err = tx.ExecContext(ctx, `DELETE FROM rollups WHERE series IN (SELECT id FROM series) AND hour = ?`, h)
		if err == nil {
			_, err = tx.ExecContext(ctx, `INSERT INTO rollups (series, hour, field, n, sum, min, max) `+agg, args...)
		}
	}
	if err == nil {
		_, err = tx.ExecContext(ctx, `DELETE FROM dirty_hours WHERE hour = ?`, h)
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return fmt.Errorf("embedded store: roll up hour %s: %w", time.Unix(0, h).UTC().Format(time.RFC3339), err)
	}
	return nil
}

// deleteBefore deletes rows of table with col < before, a series at a
// time (the primary key's prefix), in short transactions so writers are
// not held up.
func (s *Store) deleteBefore(ctx context.Context, table, col string, before int64) (int64, error) {
	ids, err := s.seriesIDs(ctx)
	if err != nil {
		return 0, err
	}
	var total int64
	q := `DELETE FROM ` + table + ` WHERE series = ? AND ` + col + ` < ?`
	for len(ids) > 0 {
		n := min(len(ids), 100)
		deleted, err := s.inTx(ctx, func(tx *sql.Tx) (int64, error) {
			var sum int64
			for _, id := range ids[:n] {
				res, err := tx.ExecContext(ctx, q, id, before)
				if err != nil {
					return 0, err
				}
				k, _ := res.RowsAffected()
				sum += k
			}
			return sum, nil
		})
		if err != nil {
			return total, fmt.Errorf("embedded store: retention on %s: %w", table, err)
		}
		total += deleted
		ids = ids[n:]
	}
	return total, nil
}

func (s *Store) inTx(ctx context.Context, f func(*sql.Tx) (int64, error)) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	n, err := f(tx)
	if err != nil {
		return 0, err
	}
	return n, tx.Commit()
}

func (s *Store) seriesIDs(ctx context.Context) ([]int64, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id FROM series ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("embedded store: series: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// rawCut is the time before which raw samples have been deleted (0: none).
func (s *Store) rawCut(ctx context.Context) (int64, error) {
	var cut int64
	err := s.read.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'raw_cut'`).Scan(&cut)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("embedded store: raw cut: %w", err)
	}
	return cut, nil
}
