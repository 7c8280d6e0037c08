// Package store defines where points go: the Store interface that ingest
// writes through, the error classes that tell a caller whether to retry,
// split or drop a batch, and the range query every implementation answers.
//
// Implementations live in subpackages: influx (InfluxDB 2.x and 1.8+ through
// influxdb-client-go) and embedded (SQLite, the default when no InfluxDB is
// configured). storetest holds the contract suite both must pass.
package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
)

// Writer stores points: what ingest's pipeline and the alert history
// need of a store.
type Writer interface {
	// Write stores pts durably before it returns nil. Writing a point that
	// is already stored (same measurement, tags, field and time) overwrites
	// it, so redelivered messages do not double-count.
	Write(ctx context.Context, pts []point.Point) error
}

// LineWriter is a Writer that also takes points already in InfluxDB line
// protocol (one point a line, each ending in a newline), as the spool
// keeps them, so that they need not be decoded and encoded again on the
// way to the database. It fails as Write does: a RejectedError or
// ErrTooLarge means the caller should write the points with Write, which
// it can split.
type LineWriter interface {
	WriteLines(ctx context.Context, lines []byte) error
}

// Reader reads points back: what the IOC server's API and reports need.
type Reader interface {
	// Query returns the points of one device in [q.From, q.To), ordered by
	// time, then measurement, then tags, with fields sorted by key.
	Query(ctx context.Context, q Query) ([]point.Point, error)
	// Aggregate returns the mean of each numeric field (float, integer) of
	// one device per window of q.Every, computed in the database so that a
	// long range returns a bounded number of samples.
	Aggregate(ctx context.Context, q AggregateQuery) ([]Series, error)
	// Scan returns the points of one measurement in [q.From, q.To) for
	// every device (and for points with no device tag, such as maintenance
	// history), in Query's order. It fails with ErrTooMany when more than
	// q.Limit points match.
	Scan(ctx context.Context, q ScanQuery) ([]point.Point, error)
	// FirstSeen returns, for each device whose first stored point is
	// before the given time, the time of that first point. Where
	// retention has left only hourly rollups, it is the start of the
	// first hour kept.
	FirstSeen(ctx context.Context, before time.Time) (map[string]time.Time, error)
	// LastSeen returns, for each device with stored data of its own (the
	// alert service's alert and maintenance history is not the device's),
	// the time of its last point. Where retention has left only hourly
	// rollups, it is the start of the last hour kept.
	LastSeen(ctx context.Context) (map[string]time.Time, error)
}

// Store is a database: the embedded store, InfluxDB, or the spool in front
// of it.
type Store interface {
	Writer
	Reader
	// Ping reports whether the store is reachable and answering.
	Ping(ctx context.Context) error
	Close() error
}

// Query selects a device's points in a time range.
type Query struct {
	Device      string
	Measurement string // empty for all
	From, To    time.Time
}

// ScanQuery selects one measurement's points of every device in a time
// range.
type ScanQuery struct {
	Measurement string // required
	From, To    time.Time
	// Limit bounds the points returned (required, > 0).
	Limit int
}

// ErrTooMany means a Scan matched more points than its limit.
var ErrTooMany = errors.New("store: more points than the limit")

// AggregateQuery selects a device's numeric fields in [From, To), averaged
// per window of Every. Windows are aligned to the Unix epoch; a sample is
// labelled with its window's start.
type AggregateQuery struct {
	Device      string
	Measurement string // empty for all
	From, To    time.Time
	Every       time.Duration
}

// Series is one field's windowed means. A window with no data has no sample.
type Series struct {
	Measurement string   `json:"measurement"`
	Field       string   `json:"field"`
	Samples     []Sample `json:"samples"`
}

// Sample is the mean of one field over one window.
type Sample struct {
	Time time.Time `json:"t"`
	Mean float64   `json:"mean"`
}

// SortSeries orders series by measurement, then field; implementations
// call it on their results.
func SortSeries(s []Series) {
	sort.Slice(s, func(i, j int) bool {
		if s[i].Measurement != s[j].Measurement {
			return s[i].Measurement < s[j].Measurement
		}
		return s[i].Field < s[j].Field
	})
}

// WindowStart is the start of the epoch-aligned window of length every
// that holds t.
func WindowStart(t time.Time, every time.Duration) time.Time {
	n := t.UnixNano()
	w := int64(every)
	start := n - n%w
	if n%w < 0 {
		start -= w
	}
	return time.Unix(0, start).UTC()
}

// RejectedError means the store refused the data itself (InfluxDB 400/422:
// a field type conflict, a bad name). Retrying the same points fails again;
// split the batch to find the offending point.
type RejectedError struct{ Err error }

func (e *RejectedError) Error() string { return "store rejected the data: " + e.Err.Error() }
func (e *RejectedError) Unwrap() error { return e.Err }

// ErrTooLarge means the request body was too large (HTTP 413); split it.
var ErrTooLarge = errors.New("store: batch too large")

// RetryAfterError is a transient failure with a server-requested delay
// (HTTP 429 or 503 with Retry-After).
type RetryAfterError struct {
	Err   error
	After time.Duration
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.After)
}
func (e *RetryAfterError) Unwrap() error { return e.Err }

// IsRejected reports whether err means the data, not the store, is at fault.
func IsRejected(err error) bool {
	var r *RejectedError
	return errors.As(err, &r)
}

// RetryAfter returns the delay the store asked for, if any.
func RetryAfter(err error) (time.Duration, bool) {
	var r *RetryAfterError
	if errors.As(err, &r) {
		return r.After, true
	}
	return 0, false
}

// RetryDelay is how long to wait before attempt+1 at a write that failed
// with err: capped exponential backoff from lo to hi with jitter, or the
// delay the store asked for (Retry-After) when longer, up to 5×hi.
func RetryDelay(err error, attempt int, lo, hi time.Duration) time.Duration {
	d := lo << min(attempt, 20)
	if d > hi || d <= 0 {
		d = hi
	}
	delay := lo/2 + rand.N(d)
	if after, ok := RetryAfter(err); ok && after > delay {
		delay = min(after, 5*hi)
	}
	return delay
}

// Normalize sorts pts into Query's documented order: time, measurement,
// tags; fields by key. Implementations call it on their results.
func Normalize(pts []point.Point) {
	for i := range pts {
		sortFields(pts[i].Fields)
	}
	sortPoints(pts)
}
