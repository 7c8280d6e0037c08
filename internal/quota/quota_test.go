package quota

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestTake(t *testing.T) {
	q := New(Config{
		Integrator: Limit{Rate: 100, Burst: 10},
		Device:     Limit{Rate: 10, Burst: 2, BytesRate: 1000, BytesBurst: 500},
		Overrides:  map[string]Limit{"big": {Rate: 1000, Burst: 100}},
	})
	now := time.Unix(1795428000, 0)
	// A device's burst passes, then it waits 1/rate per message.
	for i := range 2 {
		if w, why := q.Take("acme", "cam-01", 10, now); w != 0 || why != nil {
			t.Fatalf("message %d within burst waited %s (%v)", i, w, why)
		}
	}
	w, why := q.Take("acme", "cam-01", 10, now)
	if w != 100*time.Millisecond || why == nil || why.Scope != "device" || why.What != "messages" {
		t.Fatalf("third message: wait %s, %+v; want 100ms on the device's message rate", w, why)
	}
	if msg := why.Error(); !strings.Contains(msg, "device cam-01 is over its quota of 10 messages/s (burst 2)") || !strings.Contains(msg, "100ms") {
		t.Fatalf("explanation %q", msg)
	}
	// Another device of the same integrator is not held back by cam-01.
	if w, _ := q.Take("acme", "cam-02", 10, now); w != 0 {
		t.Fatalf("cam-02 waited %s for cam-01's quota", w)
	}
	// Bytes: a 600-byte message on a fresh device exceeds the 500-byte burst
	// and waits for the bucket to fill.
	w, why = q.Take("acme", "cam-03", 600, now)
	if w != 0 || why != nil {
		t.Fatalf("first big message waited %s (%v)", w, why)
	}
	w, why = q.Take("acme", "cam-03", 600, now)
	if why == nil || why.What != "bytes" || w != 500*time.Millisecond {
		t.Fatalf("second big message: %s %+v; want 500ms on bytes", w, why)
	}
	// Integrator limit and override.
	for i := range 20 {
		q.Take("acme", "d"+string(rune('a'+i)), 1, now)
	}
	if _, why := q.Take("acme", "dz", 1, now); why == nil || why.Scope != "integrator" {
		t.Fatalf("integrator quota not applied: %+v", why)
	}
	for i := range 50 {
		if w, why := q.Take("big", "d"+string(rune('a'+i%26))+string(rune('a'+i/26)), 1, now); why != nil && why.Scope == "integrator" {
			t.Fatalf("override ignored at message %d (%s)", i, w)
		}
	}
	if !q.Enabled() || New(Config{}).Enabled() {
		t.Fatal("Enabled")
	}
}

func TestAllowReservesNothingWhenRefused(t *testing.T) {
	q := New(Config{Device: Limit{Rate: 1, Burst: 1}})
	now := time.Unix(1795428000, 0)
	if w, _ := q.Allow("acme", "d", 1, now); w != 0 {
		t.Fatal("first message refused")
	}
	for range 5 {
		if w, why := q.Allow("acme", "d", 1, now); w == 0 || why == nil {
			t.Fatal("over-quota message allowed")
		}
	}
	// Refusals took nothing: after one second there is room again.
	if w, _ := q.Allow("acme", "d", 1, now.Add(time.Second)); w != 0 {
		t.Fatalf("refused messages used up the quota: wait %s", w)
	}
}

// TestBucketsStayBounded: senders that name ever new device ids (a client
// chooses the topic) do not grow memory without bound; a bucket that has
// refilled is dropped, which changes nothing because a full bucket is what
// a new one would be.
func TestBucketsStayBounded(t *testing.T) {
	q := New(Config{Device: Limit{Rate: 10, Burst: 5}})
	now := time.Unix(1795428000, 0)
	for i := range 3 * maxBuckets {
		q.Take("acme", "fake-"+strconv.Itoa(i), 1, now)
		if i%1000 == 0 {
			now = now.Add(time.Second) // earlier buckets refill
		}
	}
	if n := q.size(); n > maxBuckets+1 {
		t.Fatalf("%d buckets after %d distinct devices; want at most %d", n, 3*maxBuckets, maxBuckets+1)
	}
	// A device still over its quota keeps its bucket through a sweep made
	// while it is over (the map is at its bound, so new ids sweep).
	now = now.Add(time.Second)
	for range 6 {
		q.Take("acme", "busy", 1, now)
	}
	for i := range 1000 {
		q.Take("acme", "more-"+strconv.Itoa(i), 1, now)
	}
	if w, why := q.Take("acme", "busy", 1, now); why == nil || w == 0 {
		t.Fatal("an over-quota device's bucket was dropped")
	}
}
