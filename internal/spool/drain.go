package spool

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/store"
	"github.com/tidwall/wal"
)

// drainer writes spooled entries to the database in index order, up to
// DrainPoints per write, and drops them once stored. It reads ahead only
// what one write carries and keeps none of it after. A database that
// takes line protocol as it is (store.LineWriter: InfluxDB) is sent the
// spooled lines unchanged; only when it refuses some of them are they
// decoded, to find and report the refused points. Otherwise each entry is
// decoded once however many attempts the write takes.
func (s *Spool) drainer(ctx context.Context) {
	lw, raw := s.next.(store.LineWriter)
	b := &drainBatch{}
	for attempt := 0; ; {
		s.mu.Lock()
		from, to, w := s.first, s.last, s.wal
		s.mu.Unlock()
		if from > to {
			select {
			case <-ctx.Done():
				return
			case <-s.drainSig:
				continue
			}
		}
		b.reset(raw)
		var upto uint64
		var size int64
		for i := from; i <= to && i-from < 1024; i++ {
			data, err := w.Read(i)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				s.log.Error("spool: read failed; retrying", "index", i, "err", err)
				break
			}
			if _, body, err := decodeHeader(data); err != nil {
				s.m.corrupt.Inc()
				s.log.Error("spool: skipping an entry that failed its checksum (disk corruption)", "index", i, "err", err)
			} else {
				s.add(b, i, body)
			}
			upto, size = i, size+int64(len(data))
			if b.points() >= s.o.DrainPoints {
				break
			}
		}
		if upto == 0 {
			if !sleep(ctx, time.Second) {
				return
			}
			continue
		}
		for {
			err := s.write(ctx, lw, b)
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				break
			}
			s.mu.Lock()
			s.drainErr = err
			s.mu.Unlock()
			s.m.drainErrors.Inc()
			delay := store.RetryDelay(err, attempt, s.o.RetryMin, s.o.RetryMax)
			if attempt == 0 || attempt%10 == 9 {
				s.log.Warn("spool: database write failed; spooling until it recovers", "err", err, "attempt", attempt+1, "retry_in", delay)
			}
			attempt++
			if !sleep(ctx, delay) {
				return
			}
		}
		if attempt > 0 {
			s.log.Info("spool: database writes work again; draining the backlog", "attempts", attempt+1)
		}
		attempt = 0
		s.m.drainedPoints.Add(float64(b.points()))
		s.release(upto, b.points(), size)
	}
}

// drainBatch is what one drain write carries: the spooled entries' lines
// as they are (while the database takes them so), or their points.
type drainBatch struct {
	raw   bool
	lines []byte   // the entries' bodies, one after another
	ends  []int    // where each entry's body ends in lines
	index []uint64 // each entry's spool index, for the log
	nl    int      // lines in lines
	pts   []point.Point
}

func (b *drainBatch) reset(raw bool) {
	b.raw = raw
	b.lines, b.ends, b.index, b.nl = b.lines[:0], b.ends[:0], b.index[:0], 0
	clear(b.pts) // let the last write's points go
	b.pts = b.pts[:0]
}

// points is how many points the batch carries: for raw lines, their count
// (a string field holding a newline counts twice; it only steers the
// batch's size and the drained-points metric).
func (b *drainBatch) points() int {
	if b.raw {
		return b.nl
	}
	return len(b.pts)
}

// add puts entry i's body into b: as lines, or decoded.
func (s *Spool) add(b *drainBatch, i uint64, body []byte) {
	if b.raw {
		b.lines = append(b.lines, body...)
		b.ends = append(b.ends, len(b.lines))
		b.index = append(b.index, i)
		b.nl += bytes.Count(body, []byte{'\n'})
		return
	}
	var err error
	if b.pts, err = point.DecodeLines(b.pts, body); err != nil {
		s.m.corrupt.Inc()
		s.log.Error("spool: skipping an entry that does not decode", "index", i, "err", err)
	}
}

// write stores b. Raw lines go to lw as they are; when the database
// refuses some of them (or the request is too large) they are decoded and
// written as points, halving to isolate the refused ones.
func (s *Spool) write(ctx context.Context, lw store.LineWriter, b *drainBatch) error {
	if b.raw {
		err := lw.WriteLines(ctx, b.lines)
		if err == nil || !(store.IsRejected(err) || errors.Is(err, store.ErrTooLarge)) {
			return err
		}
		start := 0
		b.raw = false
		for k, end := range b.ends {
			s.add(b, b.index[k], b.lines[start:end])
			start = end
		}
	}
	return s.store(ctx, b.pts)
}

// store writes pts, isolating points the database refuses for good by
// halving: the rest are stored, the refused ones reported and dropped.
func (s *Spool) store(ctx context.Context, pts []point.Point) error {
	err := s.next.Write(ctx, pts)
	if err == nil || !(store.IsRejected(err) || errors.Is(err, store.ErrTooLarge)) {
		return err
	}
	if len(pts) == 1 {
		s.m.rejected.Inc()
		s.rej(pts, err)
		return nil
	}
	mid := len(pts) / 2
	if err := s.store(ctx, pts[:mid]); err != nil {
		return err
	}
	return s.store(ctx, pts[mid:])
}

// release drops entries up to index upto, size bytes in all: stored.
func (s *Spool) release(upto uint64, points int, size int64) {
	// The mark first: after a crash, entries after it are drained again.
	tmp := s.drainedPath() + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.FormatUint(upto, 10)), 0o600); err == nil {
		_ = os.Rename(tmp, s.drainedPath())
	}
	s.mu.Lock()
	s.bytes -= size
	s.first = upto + 1
	w := s.wal
	if s.first <= s.last {
		// The next entry's header says how old the backlog now is.
		s.oldestAt = 0
		if data, err := w.Read(s.first); err == nil {
			s.oldestAt, _, _ = decodeHeader(data)
		}
	}
	space := s.space
	s.space = make(chan struct{})
	s.drainErr = nil
	s.drained += int64(points)
	now := s.now()
	s.rate = append(s.rate, rateSample{now, s.drained})
	for len(s.rate) > 1 && now.Sub(s.rate[0].at) > 10*time.Second {
		s.rate = s.rate[1:]
	}
	s.mu.Unlock()
	close(space)
	if err := w.TruncateFront(upto + 1); err != nil && !errors.Is(err, wal.ErrClosed) {
		s.log.Warn("spool: truncating drained entries failed; they are kept until the next drain", "err", err)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
