package broker

import (
	"log/slog"
	"testing"
)

// TestListenerCloseKeepsOffMochisClientLock: the listener must not hand
// shutdown to mochi's CloseFn, whose Clients.GetByListener read-locks the
// clients twice (mochi-mqtt/server#488) and deadlocked the broker when a
// client disconnected during Close (a CI run hung 20 minutes in
// Clients.Delete). The listener's own disconnect does the work instead.
func TestListenerCloseKeepsOffMochisClientLock(t *testing.T) {
	var disconnected []string
	l := newListener("tcp", "127.0.0.1:0", nil, nil, func(id string) { disconnected = append(disconnected, id) })
	if err := l.Init(slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	l.Close(func(string) {
		t.Error("listener.Close called mochi's CloseFn (Clients.GetByListener can deadlock: mochi-mqtt/server#488)")
	})
	if len(disconnected) != 1 || disconnected[0] != "tcp" {
		t.Errorf("disconnect called with %q, want [tcp] once", disconnected)
	}
}
