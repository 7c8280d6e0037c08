package ingest

import (
	"cmp"
	"slices"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/registry"
)

// Units are field metadata, kept in the store beside the data: a SenML
// record's unit (u, or its pack's bu) is written as a point of
// measurement "unit" of the device, one string field per reading naming
// its unit, when the pipeline first sees it, when it changes, and at
// least daily (so retention keeps it). The IOC server reads a device's
// latest units from there, as it reads its data; no other file or
// database is shared between the processes. A unit that changes for the
// same field is reported to the integrator (unit_changed), and the value
// is stored as sent.

// unitRefresh is how often a unit seen again is written again.
const unitRefresh = 24 * time.Hour

// maxUnitKeys bounds the device fields whose unit the pipeline remembers;
// forgetting one only writes its unit again.
const maxUnitKeys = 200_000

type unitSeen struct {
	unit    string
	written time.Time
}

// unitBook remembers each device field's last unit (batcher goroutine).
type unitBook struct{ seen *lru.Cache[string, unitSeen] }

func newUnitBook() *unitBook {
	c, _ := lru.New[string, unitSeen](maxUnitKeys)
	return &unitBook{seen: c}
}

// units appends to b the unit points of the message just parsed (the
// parser's Units) for the devices whose records were accepted, stamped at
// (the message's stamp), and reports changed units. devs maps the ids in
// the parser's Units ("" the topic's device) to accepted devices.
func (p *Pipeline) units(b *batch, meta *msgMeta, devs func(id string) *registry.Device, at, recv time.Time) {
	if len(p.parser.Units) == 0 {
		return
	}
	type devUnits struct {
		dev    *registry.Device
		fields []point.Field
	}
	var out []devUnits
	for _, u := range p.parser.Units {
		d := devs(u.Device)
		if d == nil {
			continue
		}
		key := d.ID + "\x00" + u.Field
		prev, ok := p.unitBook.seen.Get(key)
		if ok && prev.unit != u.Unit {
			p.Notify(meta.integrator, d.ID, meta.topic, payload.Errorf(payload.ReasonUnitChanged,
				"stored, but field %q of device %q was sent in %q and is now in %q; the value is stored as sent, in %q: if the device changed, the readings before and after do not compare",
				u.Field, d.ID, prev.unit, u.Unit, u.Unit))
		}
		if ok && prev.unit == u.Unit && recv.Sub(prev.written) < unitRefresh {
			continue
		}
		p.unitBook.seen.Add(key, unitSeen{unit: u.Unit, written: recv})
		i := slices.IndexFunc(out, func(x devUnits) bool { return x.dev == d })
		if i < 0 {
			out = append(out, devUnits{dev: d})
			i = len(out) - 1
		}
		out[i].fields = append(out[i].fields, point.StringField(u.Field, u.Unit))
	}
	if len(out) == 0 {
		return
	}
	meta.unitsAt = len(b.points)
	for _, du := range out {
		slices.SortFunc(du.fields, func(x, y point.Field) int { return cmp.Compare(x.Key, y.Key) })
		b.points = append(b.points, point.Point{Measurement: payload.MeasurementUnit, Tags: du.dev.Tags(), Time: at, Fields: du.fields})
	}
}
