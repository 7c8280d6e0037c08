package availability_test

import (
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/availability"
)

// TestRetiredDeviceCountsUntilRetired: a sensor retired at noon on the
// second day counts in full on the first, for half the second, and not
// at all on the third; its district's rows say so.
func TestRetiredDeviceCountsUntilRetired(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Ho_Chi_Minh")
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, loc)
	in := availability.Input{
		Devices: []availability.Device{
			{ID: "aq-1", Kind: "sensor", District: "d1", Integrator: "acme"},
			{ID: "aq-2", Kind: "sensor", District: "d1", Integrator: "acme", Retired: from.Add(36 * time.Hour)},
		},
		FirstSeen: map[string]time.Time{"aq-1": from.Add(-time.Hour), "aq-2": from.Add(-time.Hour)},
	}
	rep, err := availability.Compute(in, availability.Options{From: from, To: from.AddDate(0, 0, 3), Group: availability.ByDistrict,
		Period: availability.Day, Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]struct{ devices, counted int64 }{
		1: {2, 2 * 86400},
		2: {2, 86400 + 43200},
		3: {1, 86400},
	}
	if len(rep.Rows) != 3 {
		t.Fatalf("%d rows, want 3: %+v", len(rep.Rows), rep.Rows)
	}
	for _, r := range rep.Rows {
		w := want[r.Start.In(loc).Day()]
		if int64(r.Devices) != w.devices || r.Counted != w.counted {
			t.Errorf("%s: %d devices, %d s counted; want %d, %d", r.Start.In(loc).Format("02/01"), r.Devices, r.Counted, w.devices, w.counted)
		}
	}
}
