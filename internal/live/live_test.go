package live

import (
	"fmt"
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

// TestPictureRecentlyResolved: resolutions are kept most recent first, at
// most RecentResolved, root causes only; snapshots and deltas follow the
// client's filter.
func TestPictureRecentlyResolved(t *testing.T) {
	p := New(16)
	all, daiTu := &recorder{}, &recorder{}
	p.Subscribe(all, Filter{})
	p.Subscribe(daiTu, Filter{Districts: []string{"dai-tu"}})
	at := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	res := func(i int, district, parent string) Resolution {
		id := fmt.Sprintf("device-offline/cam-%03d", i)
		return Resolution{Alert: alert.Alert{ID: id, District: district, Severity: alert.Critical, Parent: parent},
			At: at.Add(time.Duration(i) * time.Minute), By: "ky-thuat-1", Note: fmt.Sprintf("thay nguồn %d", i)}
	}
	p.Resolved(res(0, "dai-tu", ""))
	p.Resolved(res(1, "dinh-hoa", ""))
	p.Resolved(res(2, "dai-tu", "device-offline/nvr-1")) // folded: resolved with its parent
	p.Resolved(res(1, "dinh-hoa", ""))                   // heard again (QoS 1 redelivery)
	if n := len(all.deltas); n != 2 {
		t.Fatalf("%d deltas for two root-cause resolutions, one heard twice, and a folded one; want 2", n)
	}
	if d := all.deltas[0]; d.Type != TypeResolved || d.Resolved.Note != "thay nguồn 0" || d.Resolved.By != "ky-thuat-1" {
		t.Errorf("first delta %+v", d)
	}
	matched := 0
	for _, d := range all.deltas {
		if (Filter{Districts: []string{"dai-tu"}}).Match(d) {
			matched++
		}
	}
	if matched != 1 {
		t.Errorf("a Đại Từ client is sent %d of the resolutions; want 1", matched)
	}
	for i := 3; i < 3+RecentResolved; i++ {
		p.Resolved(res(i, "dinh-hoa", ""))
	}
	s := p.Snapshot(Filter{})
	if len(s.Resolved) != RecentResolved {
		t.Fatalf("snapshot holds %d resolutions; want the last %d", len(s.Resolved), RecentResolved)
	}
	if first, last := s.Resolved[0].Alert.ID, s.Resolved[RecentResolved-1].Alert.ID; first != fmt.Sprintf("device-offline/cam-%03d", 2+RecentResolved) || last != "device-offline/cam-003" {
		t.Errorf("snapshot from %s to %s; want the most recent first, the oldest dropped", first, last)
	}
	if s := p.Snapshot(Filter{Districts: []string{"dai-tu"}}); len(s.Resolved) != 0 {
		t.Errorf("Đại Từ's snapshot holds %d resolutions after its one was pushed out; want 0", len(s.Resolved))
	}
	p.Resolved(res(99, "dai-tu", ""))
	if s := p.Snapshot(Filter{Districts: []string{"dai-tu"}}); len(s.Resolved) != 1 || s.Resolved[0].Note != "thay nguồn 99" {
		t.Errorf("Đại Từ's snapshot: %+v", s.Resolved)
	}
}
