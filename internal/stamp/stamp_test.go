package stamp

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRedeliveryKeepsStampAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stamps")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1795428000, 123456789)
	k := MakeKey("ioc/v1/acme/cam-01/status", 7, []byte(`{"state":"online"}`))
	if got := j.Stamp(k, false, t0); !got.Equal(t0) {
		t.Fatalf("first delivery stamped %v, want now %v", got, t0)
	}
	j.Record(k, t0)
	// A redelivery in the same process (e.g. after a reconnect) keeps the stamp.
	if got := j.Stamp(k, true, t0.Add(time.Minute)); !got.Equal(t0) {
		t.Fatalf("redelivery stamped %v, want %v", got, t0)
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	// Crash: the file is all the next process has (no Close).
	j2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	if got := j2.Stamp(k, true, t0.Add(time.Hour)); !got.Equal(t0) {
		t.Fatalf("redelivery after restart stamped %v, want %v", got, t0)
	}
	// Without DUP it is a new message that reused the packet id.
	later := t0.Add(time.Hour)
	if got := j2.Stamp(k, false, later); !got.Equal(later) {
		t.Fatalf("new message with reused id stamped %v, want now", got)
	}
	other := MakeKey("ioc/v1/acme/cam-01/status", 7, []byte(`{"state":"offline"}`))
	if got := j2.Stamp(other, true, later); !got.Equal(later) {
		t.Fatalf("different payload got old stamp %v", got)
	}
}

func TestAcknowledgedStampsAreForgotten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stamps")
	j, _ := Open(path)
	j.maxSize = 0 // rewrite on every sync
	t0 := time.Unix(1795428000, 0)
	k := MakeKey("t", 1, []byte("x"))
	j.Record(k, t0)
	j.Sync()
	j.Done([]Key{k}, t0)
	j.Record(MakeKey("t", 2, []byte("y")), t0)
	j.Done(nil, t0.Add(RecentTTL+time.Second)) // k expires from the recent set
	j.Sync()
	j.Close()
	j2, _ := Open(path)
	defer j2.Close()
	if live, recent, rec := j2.Len(); live != 0 || recent != 0 || rec != 1 {
		t.Fatalf("after restart %d live, %d recent, %d recovered; want 0, 0, 1 (the expired stamp dropped)", live, recent, rec)
	}
}

func TestTornRecordIgnored(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stamps")
	j, _ := Open(path)
	j.Record(MakeKey("t", 1, []byte("x")), time.Unix(1, 0))
	j.Sync()
	j.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{1, 2, 3, 4, 5})
	f.Close()
	j2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	if _, _, rec := j2.Len(); rec != 1 {
		t.Fatalf("recovered %d stamps, want 1", rec)
	}
}

func TestAcknowledgedStampMatchesOnlyDUP(t *testing.T) {
	j, _ := Open(filepath.Join(t.TempDir(), "stamps"))
	defer j.Close()
	t0 := time.Unix(1795428000, 0)
	k := MakeKey("ioc/v1/acme/aq-01/telemetry", 9, []byte(`{"pm25":3}`))
	j.Record(k, t0)
	j.Done([]Key{k}, t0)
	later := t0.Add(time.Minute)
	// The PUBACK was lost with the connection: the broker redelivers with DUP.
	if got := j.Stamp(k, true, later); !got.Equal(t0) {
		t.Fatalf("redelivery of an acknowledged message stamped %v, want %v", got, t0)
	}
	// Without DUP, the id was reused by a new message: a new reading.
	if got := j.Stamp(k, false, later); !got.Equal(later) {
		t.Fatalf("new message stamped %v, want now", got)
	}
	j.Done(nil, t0.Add(RecentTTL+time.Minute))
	if got := j.Stamp(k, true, later); !got.Equal(later) {
		t.Fatalf("stamp still matched after RecentTTL: %v", got)
	}
}
