// Package stamp keeps the receive time given to each unacknowledged MQTT
// message, so that a message without its own timestamp keeps the same time
// when the broker redelivers it, and the store's upsert makes the second
// copy a no-op instead of a second reading.
//
// A redelivered QoS 1 message keeps its topic, payload and packet id
// (MQTT-4.4.0-1) and carries DUP=1 (MQTT-3.3.1-1). The journal keys stamps
// by (topic, packet id, payload hash). Stamps of unacknowledged messages
// match any delivery. Stamps of messages acknowledged in the last
// RecentTTL, and those recovered from the previous process's file, match
// only deliveries with DUP set: a PUBACK can be lost with the connection
// (a broker restart), so the broker redelivers what we acknowledged, while
// a packet id without DUP may be a new message reusing the id.
//
// Sync appends new stamps to the file and fsyncs once per batch, before the
// batch is written to the store: a crash between store and acknowledgement
// still finds the stamp on restart.
package stamp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Key identifies one delivery of a message.
type Key struct {
	Hash uint64 // xxhash of topic, 0, payload
	ID   uint16 // MQTT packet id
}

// MakeKey builds the key of a message.
func MakeKey(topic string, id uint16, payload []byte) Key {
	d := xxhash.New()
	d.WriteString(topic)
	d.Write([]byte{0})
	d.Write(payload)
	return Key{Hash: d.Sum64(), ID: id}
}

const recordSize = 8 + 2 + 8 + 4 // hash, id, unix ns, crc32

// RecentTTL is how long a stamp is kept after its message is acknowledged,
// for redeliveries whose PUBACK was lost with the connection.
const RecentTTL = 5 * time.Minute

type acked struct {
	key Key
	at  time.Time
}

// Journal is the stamp journal. Its methods are safe for concurrent use.
type Journal struct {
	path string

	mu        sync.Mutex
	f         *os.File
	size      int64
	live      map[Key]int64 // stamps of messages not yet acknowledged
	recent    map[Key]int64 // acknowledged within RecentTTL; DUP deliveries only
	ackOrder  []acked       // recent in acknowledgement order, for expiry
	recovered map[Key]int64 // from the previous process; DUP deliveries only
	pending   []byte        // records not yet in the file
	maxSize   int64
}

// Open loads the journal at path (creating it) and starts a fresh file that
// holds the recovered stamps until they expire.
func Open(path string) (*Journal, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("stamp journal: %w", err)
	}
	j := &Journal{path: path, live: map[Key]int64{}, recent: map[Key]int64{}, recovered: map[Key]int64{}, maxSize: 8 << 20}
	if err := j.load(); err != nil {
		return nil, err
	}
	if err := j.rewrite(); err != nil {
		return nil, err
	}
	return j, nil
}

func (j *Journal) load() error {
	f, err := os.Open(j.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stamp journal: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var rec [recordSize]byte
	for {
		if _, err := io.ReadFull(r, rec[:]); err != nil {
			return nil // EOF or a torn last record from a crash: stop there
		}
		if crc32.ChecksumIEEE(rec[:18]) != binary.LittleEndian.Uint32(rec[18:]) {
			return nil
		}
		k := Key{Hash: binary.LittleEndian.Uint64(rec[0:]), ID: binary.LittleEndian.Uint16(rec[8:])}
		j.recovered[k] = int64(binary.LittleEndian.Uint64(rec[10:]))
	}
}

func appendRecord(dst []byte, k Key, ns int64) []byte {
	var rec [recordSize]byte
	binary.LittleEndian.PutUint64(rec[0:], k.Hash)
	binary.LittleEndian.PutUint16(rec[8:], k.ID)
	binary.LittleEndian.PutUint64(rec[10:], uint64(ns))
	binary.LittleEndian.PutUint32(rec[18:], crc32.ChecksumIEEE(rec[:18]))
	return append(dst, rec[:]...)
}

// rewrite replaces the file with the live and recovered stamps only.
func (j *Journal) rewrite() error {
	tmp := j.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("stamp journal: %w", err)
	}
	var buf []byte
	for k, ns := range j.recovered {
		buf = appendRecord(buf, k, ns)
	}
	for k, ns := range j.recent {
		buf = appendRecord(buf, k, ns)
	}
	for k, ns := range j.live {
		buf = appendRecord(buf, k, ns)
	}
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return fmt.Errorf("stamp journal: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("stamp journal: %w", err)
	}
	if err := os.Rename(tmp, j.path); err != nil {
		f.Close()
		return fmt.Errorf("stamp journal: %w", err)
	}
	if j.f != nil {
		j.f.Close()
	}
	j.f, j.size, j.pending = f, int64(len(buf)), j.pending[:0]
	return nil
}

// Stamp returns the time to stamp a message with: the time it was first
// given, if this is a redelivery the journal knows, else now. Call Record
// if the stamp was used.
func (j *Journal) Stamp(k Key, dup bool, now time.Time) time.Time {
	j.mu.Lock()
	defer j.mu.Unlock()
	if ns, ok := j.live[k]; ok {
		return time.Unix(0, ns)
	}
	if dup {
		if ns, ok := j.recent[k]; ok {
			return time.Unix(0, ns)
		}
		if ns, ok := j.recovered[k]; ok {
			return time.Unix(0, ns)
		}
	}
	return now
}

// Record remembers that message k was stamped with t.
func (j *Journal) Record(k Key, t time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := j.live[k]; ok {
		return
	}
	ns := t.UnixNano()
	j.live[k] = ns
	j.pending = appendRecord(j.pending, k, ns)
}

// Sync makes every recorded stamp durable.
func (j *Journal) Sync() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.pending) == 0 {
		return nil
	}
	if j.size > j.maxSize {
		return j.rewrite()
	}
	n, err := j.f.Write(j.pending)
	j.size += int64(n)
	if err != nil {
		return fmt.Errorf("stamp journal: %w", err)
	}
	j.pending = j.pending[:0]
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("stamp journal: %w", err)
	}
	return nil
}

// Done marks messages acknowledged at now: their stamps move to the recent
// set and expire RecentTTL later.
func (j *Journal) Done(keys []Key, now time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, k := range keys {
		if ns, ok := j.live[k]; ok {
			delete(j.live, k)
			j.recent[k] = ns
			j.ackOrder = append(j.ackOrder, acked{key: k, at: now})
		}
	}
	i := 0
	for ; i < len(j.ackOrder) && now.Sub(j.ackOrder[i].at) > RecentTTL; i++ {
		delete(j.recent, j.ackOrder[i].key)
	}
	if i > 0 {
		j.ackOrder = append(j.ackOrder[:0], j.ackOrder[i:]...)
	}
}

// ForgetRecovered drops the previous process's stamps; call it once the
// broker has had time to redeliver (ingest does so after a few minutes).
func (j *Journal) ForgetRecovered() {
	j.mu.Lock()
	defer j.mu.Unlock()
	clear(j.recovered)
}

// Len returns the number of live, recently acknowledged and recovered stamps.
func (j *Journal) Len() (live, recent, recovered int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.live), len(j.recent), len(j.recovered)
}

// Close closes the file. Live stamps stay in it for the next process.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.pending) > 0 {
		j.f.Write(j.pending)
		j.f.Sync()
	}
	return j.f.Close()
}
