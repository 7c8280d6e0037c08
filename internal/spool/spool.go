// Package spool puts a local, checksummed, fsync'd log between ingest and
// its database. Write appends a batch of points to the log and returns once
// it is on disk (concurrent writes share one fsync: group commit), so ingest
// acknowledges messages to the broker as soon as they are spooled; a drainer
// writes the log's entries to the database in order (as the line protocol
// they are kept in, when the database takes that), retrying transient
// failures, and removes them once stored. A database outage fills the spool
// instead of stopping ingest; when the spool reaches its size bound, Write
// waits (ingest stops acknowledging and the broker holds the rest) and says
// so. Nothing acknowledged is dropped.
//
// The log is github.com/tidwall/wal (segmented, batch writes, truncation
// from the front). Each entry is
//
//	crc32c (4 bytes, of the rest) | spooled at (8 bytes, unix ns) | line protocol
//
// and is drained in index order; the index of the last stored entry is kept
// in the file "drained" beside the log. An entry drained twice (a crash
// between the database's answer and that file) is harmless: writes are
// upserts by series, time and field.
package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/store"
	"github.com/tidwall/wal"
)

// Options configure a spool.
type Options struct {
	// Dir holds the log and the drained mark.
	Dir string `yaml:"-"`
	// MaxBytes bounds the spool on disk; at the bound Write waits.
	MaxBytes int64 `yaml:"max_bytes"`
	// DrainPoints is how many points one database write carries while
	// draining a backlog; the drainer reads no further ahead than that.
	DrainPoints int `yaml:"drain_points"`
	// RetryMin and RetryMax bound the backoff after a failed database write.
	RetryMin time.Duration `yaml:"-"`
	RetryMax time.Duration `yaml:"-"`
}

// DefaultOptions hold an hour at 5,000 msgs/s of typical messages with room.
// A drain write of 20,000 points is about 4 MiB of line protocol and, decoded,
// about 10 MiB of memory: the drainer's whole read-ahead.
var DefaultOptions = Options{MaxBytes: 8 << 30, DrainPoints: 20000, RetryMin: 100 * time.Millisecond, RetryMax: 10 * time.Second}

// Deps are the spool's collaborators.
type Deps struct {
	// Next is the database the spool drains into.
	Next store.Store
	Log  *slog.Logger
	// Rejected is told of points the database refused for good (a type
	// conflict); they are dropped from the spool after this call.
	Rejected func(pts []point.Point, err error)
	Now      func() time.Time
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("spool: closed")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type pending struct {
	data []byte
	done chan error
}

// Spool is a store.Store that spools writes and drains them into Next.
type Spool struct {
	o    Options
	next store.Store
	log  *slog.Logger
	now  func() time.Time
	rej  func([]point.Point, error)
	dir  string
	m    *metrics

	mu  sync.Mutex
	wal *wal.Log
	// The entries spooled and not yet drained are first..last, in index
	// order (none when first > last): the log on disk is the only list of
	// them, so memory does not grow with an outage.
	first    uint64
	last     uint64 // last index written
	oldestAt int64  // spooled-at (unix ns) of entry first, when there is one
	bytes    int64
	queue    []pending
	closed   bool
	full     bool
	fullLog  time.Time
	wake     chan struct{} // committer
	drainSig chan struct{} // drainer
	space    chan struct{} // closed and replaced when space frees up
	drainErr error         // the last database failure, nil when draining works
	drained  int64         // points drained since Open
	rate     []rateSample  // recent (time, drained) for the drain rate

	stop    context.CancelFunc
	stopped sync.WaitGroup
}

var _ store.Store = (*Spool)(nil)

// Open opens (or creates) the spool in o.Dir, recovers what a previous
// process left, and starts committing and draining.
func Open(o Options, d Deps, reg metricsRegisterer) (*Spool, error) {
	if d.Next == nil {
		return nil, errors.New("spool: Next store is required")
	}
	def := DefaultOptions
	if o.MaxBytes <= 0 {
		o.MaxBytes = def.MaxBytes
	}
	if o.DrainPoints <= 0 {
		o.DrainPoints = def.DrainPoints
	}
	if o.RetryMin <= 0 {
		o.RetryMin = def.RetryMin
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = max(def.RetryMax, o.RetryMin)
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Rejected == nil {
		d.Rejected = func([]point.Point, error) {}
	}
	s := &Spool{o: o, next: d.Next, log: d.Log, now: d.Now, rej: d.Rejected, dir: o.Dir,
		wake: make(chan struct{}, 1), drainSig: make(chan struct{}, 1), space: make(chan struct{})}
	if err := os.MkdirAll(filepath.Join(o.Dir, "log"), 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	if err := s.openLog(); err != nil {
		return nil, err
	}
	if err := s.recover(); err != nil {
		s.wal.Close()
		return nil, err
	}
	s.m = newMetrics(reg, s)
	if n := s.entriesLocked(); n > 0 {
		s.log.Info("spool: draining what the previous run left", "entries", n, "bytes", s.bytes)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.stopped.Add(2)
	go func() { defer s.stopped.Done(); s.committer(ctx) }()
	go func() { defer s.stopped.Done(); s.drainer(ctx) }()
	return s, nil
}

// Segments of 4 MiB, one cached besides the tail: the log keeps at most
// about 16 MiB in memory (the tail's buffer grows to twice its size),
// however much it holds on disk.
const (
	segmentSize      = 4 << 20
	segmentCacheSize = 1
)

func (s *Spool) logDir() string      { return filepath.Join(s.dir, "log") }
func (s *Spool) drainedPath() string { return filepath.Join(s.dir, "drained") }

// openLog opens the log, repairing a torn tail (a crash or a full disk in
// the middle of an append) by cutting the last segment after its last
// whole entry: that append was never acknowledged.
func (s *Spool) openLog() error {
	opts := &wal.Options{SegmentSize: segmentSize, SegmentCacheSize: segmentCacheSize, AllowEmpty: true, DirPerms: 0o700, FilePerms: 0o600}
	l, err := wal.Open(s.logDir(), opts)
	if errors.Is(err, wal.ErrCorrupt) {
		if rerr := repairTail(s.logDir()); rerr != nil {
			return fmt.Errorf("spool: repair %s: %w", s.logDir(), rerr)
		}
		s.log.Warn("spool: cut a torn entry from the end of the log (an append that was never acknowledged)")
		l, err = wal.Open(s.logDir(), opts)
	}
	if err != nil {
		return fmt.Errorf("spool: open %s: %w", s.logDir(), err)
	}
	s.wal = l
	return nil
}

// repairTail truncates the newest segment file after its last whole entry
// (uvarint length, then that many bytes).
func repairTail(dir string) error {
	names, err := filepath.Glob(filepath.Join(dir, "????????????????????"))
	if err != nil || len(names) == 0 {
		return fmt.Errorf("no segment to repair: %v", err)
	}
	last := names[len(names)-1] // zero-padded index: lexical order is index order
	b, err := os.ReadFile(last)
	if err != nil {
		return err
	}
	pos := 0
	for pos < len(b) {
		size, n := binary.Uvarint(b[pos:])
		if n <= 0 || uint64(len(b)-pos-n) < size {
			break
		}
		pos += n + int(size)
	}
	return os.Truncate(last, int64(pos))
}

// recover reads the drained mark and checks and counts the entries after it.
func (s *Spool) recover() error {
	first, err := s.wal.FirstIndex()
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	last, err := s.wal.LastIndex()
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.last = last
	drained := uint64(0)
	if b, err := os.ReadFile(s.drainedPath()); err == nil {
		drained, _ = strconv.ParseUint(string(b), 10, 64)
	}
	s.first = min(max(first, drained+1, 1), last+1)
	for i := s.first; i <= last; i++ {
		data, err := s.wal.Read(i)
		if err != nil {
			return fmt.Errorf("spool: read entry %d: %w", i, err)
		}
		at, _, err := decodeHeader(data)
		if err != nil {
			// Checksummed entries fail only if the disk corrupted them:
			// keep going, and the drainer reports and skips it.
			s.log.Error("spool: entry failed its checksum; it will be skipped", "index", i, "err", err)
		}
		if i == s.first {
			s.oldestAt = at
		}
		s.bytes += int64(len(data))
	}
	if first > 0 && drained+1 > first && drained <= last {
		_ = s.wal.TruncateFront(drained + 1)
	}
	return nil
}

const headerLen = 12

func encode(dst []byte, at time.Time, pts []point.Point) []byte {
	dst = append(dst, make([]byte, headerLen)...)
	binary.LittleEndian.PutUint64(dst[4:12], uint64(at.UnixNano()))
	for i := range pts {
		dst = point.AppendLine(dst, &pts[i])
		dst = append(dst, '\n')
	}
	binary.LittleEndian.PutUint32(dst[0:4], crc32.Checksum(dst[4:], castagnoli))
	return dst
}

func decodeHeader(data []byte) (at int64, body []byte, err error) {
	if len(data) < headerLen {
		return 0, nil, errors.New("entry shorter than its header")
	}
	if crc32.Checksum(data[4:], castagnoli) != binary.LittleEndian.Uint32(data[:4]) {
		return 0, nil, errors.New("checksum mismatch")
	}
	return int64(binary.LittleEndian.Uint64(data[4:12])), data[headerLen:], nil
}

// Write spools pts and returns once they are fsync'd. While the spool is
// at its size bound it waits for the drainer (or ctx).
func (s *Spool) Write(ctx context.Context, pts []point.Point) error {
	if len(pts) == 0 {
		return nil
	}
	data := encode(nil, s.now(), pts)
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return ErrClosed
		}
		if s.bytes+int64(len(data)) <= s.o.MaxBytes || s.bytes == 0 {
			break
		}
		if !s.full || s.now().Sub(s.fullLog) > time.Minute {
			s.log.Error("spool full: not acknowledging new messages until the database catches up; the broker holds them",
				"bytes", s.bytes, "max_bytes", s.o.MaxBytes, "oldest", s.oldestLocked(), "database_error", s.drainErr)
			s.fullLog = s.now()
		}
		s.full = true
		space := s.space
		s.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			return fmt.Errorf("spool full (%d bytes): %w", s.o.MaxBytes, ctx.Err())
		}
	}
	if s.full {
		s.full = false
		s.log.Info("spool has room again: acknowledging")
	}
	done := make(chan error, 1)
	s.queue = append(s.queue, pending{data: data, done: done})
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		// The append may still complete; the message stays unacknowledged
		// and its redelivery is absorbed by the upsert.
		return ctx.Err()
	}
}

// committer appends whatever is queued as one batch with one fsync.
func (s *Spool) committer(ctx context.Context) {
	var batch wal.Batch
	for {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			q := s.queue
			s.queue = nil
			s.mu.Unlock()
			for _, p := range q {
				p.done <- ErrClosed
			}
			return
		case <-s.wake:
		}
		s.mu.Lock()
		q := s.queue
		s.queue = nil
		first := s.last + 1
		s.mu.Unlock()
		if len(q) == 0 {
			continue
		}
		batch.Clear()
		for i, p := range q {
			batch.Write(first+uint64(i), p.data)
		}
		start := time.Now()
		err := s.wal.WriteBatch(&batch)
		s.m.appendSeconds.Observe(time.Since(start).Seconds())
		if err != nil {
			// A failed append (a full disk) leaves the log's memory and
			// file apart: reopen it from disk, cutting any torn entry.
			s.m.appendErrors.Inc()
			s.log.Error("spool: append failed; these messages stay unacknowledged", "err", err, "entries", len(q))
			s.mu.Lock()
			_ = s.wal.Close()
			if rerr := s.openLog(); rerr != nil {
				s.log.Error("spool: reopening the log failed", "err", rerr)
			} else if last, lerr := s.wal.LastIndex(); lerr == nil {
				s.last = last
			}
			s.mu.Unlock()
			for _, p := range q {
				p.done <- fmt.Errorf("spool append: %w", err)
			}
			continue
		}
		s.mu.Lock()
		if s.first > s.last {
			s.oldestAt = int64(binary.LittleEndian.Uint64(q[0].data[4:12]))
		}
		for _, p := range q {
			s.bytes += int64(len(p.data))
		}
		s.last = first + uint64(len(q)) - 1
		s.mu.Unlock()
		for _, p := range q {
			p.done <- nil
		}
		select {
		case s.drainSig <- struct{}{}:
		default:
		}
	}
}

// Flush waits until everything spooled before the call is in the
// database, or ctx ends.
func (s *Spool) Flush(ctx context.Context) error {
	s.mu.Lock()
	target := s.last
	s.mu.Unlock()
	for {
		s.mu.Lock()
		done := s.first > target
		s.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Close stops committing and draining. What is spooled stays on disk for
// the next Open; it does not close Next.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.stop()
	s.stopped.Wait()
	return s.wal.Close()
}

// Query, Aggregate and Ping go to the database: what is still spooled is
// not visible to them until drained.
func (s *Spool) Query(ctx context.Context, q store.Query) ([]point.Point, error) {
	return s.next.Query(ctx, q)
}

// Aggregate implements store.Store.
func (s *Spool) Aggregate(ctx context.Context, q store.AggregateQuery) ([]store.Series, error) {
	return s.next.Aggregate(ctx, q)
}

// Scan implements store.Store.
func (s *Spool) Scan(ctx context.Context, q store.ScanQuery) ([]point.Point, error) {
	return s.next.Scan(ctx, q)
}

// FirstSeen implements store.Store.
func (s *Spool) FirstSeen(ctx context.Context, before time.Time) (map[string]time.Time, error) {
	return s.next.FirstSeen(ctx, before)
}

// LastSeen implements store.Store.
func (s *Spool) LastSeen(ctx context.Context) (map[string]time.Time, error) {
	return s.next.LastSeen(ctx)
}

// Ping implements store.Store.
func (s *Spool) Ping(ctx context.Context) error { return s.next.Ping(ctx) }

type rateSample struct {
	at      time.Time
	drained int64
}

// Status is the spool's state for the status page.
type Status struct {
	Entries  int   `json:"entries"`
	Bytes    int64 `json:"bytes"`
	MaxBytes int64 `json:"max_bytes"`
	// Oldest is the age of the oldest spooled batch.
	Oldest time.Duration `json:"oldest_ns"`
	Full   bool          `json:"full"`
	// Drained is the points written to the database since start; DrainRate
	// their rate over the last ten seconds or so (points/s).
	Drained     int64   `json:"drained_points"`
	DrainRate   float64 `json:"drain_rate"`
	DatabaseErr string  `json:"database_error,omitempty"`
}

// Status reports the spool's size, the age of its oldest entry, and
// whether it is full or the database failing.
func (s *Spool) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Entries: s.entriesLocked(), Bytes: s.bytes, MaxBytes: s.o.MaxBytes, Oldest: s.oldestLocked(), Full: s.full, Drained: s.drained}
	now := s.now()
	if n := len(s.rate); n > 0 {
		first := s.rate[0]
		if el := now.Sub(first.at).Seconds(); el > 0.5 {
			st.DrainRate = float64(s.drained-first.drained) / el
		}
	}
	if s.drainErr != nil {
		st.DatabaseErr = s.drainErr.Error()
	}
	return st
}

func (s *Spool) oldestLocked() time.Duration {
	if s.first > s.last {
		return 0
	}
	return s.now().Sub(time.Unix(0, s.oldestAt))
}

func (s *Spool) entriesLocked() int {
	if s.first > s.last {
		return 0
	}
	return int(s.last - s.first + 1)
}
