package live

import (
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
)

type recorder struct{ deltas []*Delta }

func (r *recorder) Offer(d *Delta) { r.deltas = append(r.deltas, d) }

func (r *recorder) syncs() []SyncState {
	var out []SyncState
	for _, d := range r.deltas {
		if d.Type == TypeSync {
			out = append(out, *d.Sync)
		}
	}
	return out
}

// TestPictureStaleWhileTheBrokerIsLost: a picture is live from its first
// sync; losing the broker marks it stale as of that moment, once, keeping
// what it holds; the next sync makes it live again.
func TestPictureStaleWhileTheBrokerIsLost(t *testing.T) {
	p := New(16)
	rec := &recorder{}
	if s := p.Subscribe(rec, Filter{}); s.Live || s.StaleSince != nil {
		t.Fatalf("before the first sync: live %v since %v; want not live, no time", s.Live, s.StaleSince)
	}
	p.Lost(time.Now()) // not live yet: nothing to say
	p.BeginSync()
	p.Apply(Update{AlertID: "r/d", Alert: &alert.Alert{ID: "r/d", Rule: "r", Device: "d", Severity: alert.Critical, State: alert.Active}})
	p.EndSync()
	if got := rec.syncs(); len(got) != 1 || !got[0].Live {
		t.Fatalf("after the first sync: sync deltas %+v; want one, live", got)
	}

	at := time.Date(2026, 12, 2, 16, 50, 0, 0, time.UTC)
	p.Lost(at)
	p.Lost(at.Add(time.Second)) // paho may report twice: the first time stands
	got := rec.syncs()
	if len(got) != 2 || got[1].Live || got[1].StaleSince == nil || !got[1].StaleSince.Equal(at) {
		t.Fatalf("after losing the broker: sync deltas %+v; want a second, stale since %s", got, at)
	}
	s := p.Snapshot(Filter{})
	if s.Live || s.StaleSince == nil || !s.StaleSince.Equal(at) || len(s.Alerts) != 1 {
		t.Fatalf("snapshot while stale: live %v since %v alerts %d; want stale since %s, the alert kept", s.Live, s.StaleSince, len(s.Alerts), at)
	}

	p.BeginSync()
	p.EndSync() // the broker holds nothing now: the alert goes, then live
	got = rec.syncs()
	if len(got) != 3 || !got[2].Live || got[2].StaleSince != nil {
		t.Fatalf("after the resync: sync deltas %+v; want a third, live", got)
	}
	last := rec.deltas[len(rec.deltas)-1]
	if last.Type != TypeSync {
		t.Errorf("the live delta came before the resync's changes (last delta %s)", last.Type)
	}
	if s := p.Snapshot(Filter{}); !s.Live || s.StaleSince != nil || len(s.Alerts) != 0 {
		t.Errorf("snapshot after the resync: live %v since %v alerts %d", s.Live, s.StaleSince, len(s.Alerts))
	}
}
