package ingest

import (
	"strconv"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := newLimiter(time.Second)
	now := time.Unix(1795428000, 0)
	if ok, _ := l.allow("r", now); !ok {
		t.Fatal("first line held back")
	}
	for range 3 {
		if ok, _ := l.allow("r", now.Add(100*time.Millisecond)); ok {
			t.Fatal("second line within the interval let through")
		}
	}
	if ok, n := l.allow("r", now.Add(time.Second)); !ok || n != 3 {
		t.Fatalf("after the interval: %v, %d suppressed; want true, 3", ok, n)
	}
	// Keys come from client-chosen device ids: memory stays bounded.
	for i := range 5 * maxLimiterKeys {
		l.allow("notice/acme/fake-"+strconv.Itoa(i), now)
	}
	if len(l.last) > maxLimiterKeys || len(l.held) > maxLimiterKeys {
		t.Fatalf("%d keys remembered, want at most %d", len(l.last), maxLimiterKeys)
	}
}
