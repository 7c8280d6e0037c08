package ingest

import (
	"hash/maphash"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/point"
)

// cardinality bounds what one device or integrator can add to the
// database's series index, which the database keeps for the whole
// retention: distinct series (measurement and tag set) per device per
// clock hour, and distinct measurement names per integrator. A message
// that would pass a bound is refused whole; nothing of it is counted.
// Only the batcher goroutine uses it.
type cardinality struct {
	maxSeries       int // per device per hour
	maxMeasurements int // per integrator
	seed            maphash.Seed
	// Devices' windows: an LRU so that devices invented under
	// accept_unknown cannot grow it; a forgotten device starts afresh.
	// The unlocked LRU: only the batcher goroutine uses it.
	devices      *simplelru.LRU[string, *seriesWindow]
	measurements map[string]map[string]struct{} // integrator → names seen
	fresh        map[uint64]struct{}            // scratch: a message's series new this hour
}

// seriesWindow is the distinct series a device wrote in one clock hour.
type seriesWindow struct {
	hour   int64
	series map[uint64]struct{}
}

// maxTrackedDevices bounds the devices whose windows are kept.
const maxTrackedDevices = 100_000

func newCardinality(maxSeries, maxMeasurements int) *cardinality {
	devices, _ := simplelru.NewLRU[string, *seriesWindow](maxTrackedDevices, nil) // size is positive
	return &cardinality{
		maxSeries:       maxSeries,
		maxMeasurements: maxMeasurements,
		seed:            maphash.MakeSeed(),
		devices:         devices,
		measurements:    map[string]map[string]struct{}{},
		fresh:           map[uint64]struct{}{},
	}
}

// admit checks pts, a message's points before the registry's tags are added
// (those are the same for every point of a device), against the bounds and
// records them if they pass.
func (c *cardinality) admit(integrator, device string, pts []point.Point, now time.Time) *payload.Error {
	seen := c.measurements[integrator]
	var newNames []string
	for i := range pts {
		m := pts[i].Measurement
		if _, ok := seen[m]; ok || contains(newNames, m) {
			continue
		}
		newNames = append(newNames, m)
	}
	if len(seen)+len(newNames) > c.maxMeasurements {
		return payload.Errorf(payload.ReasonTooManyMeasurements,
			"measurement %q would be integrator %s's measurement number %d; the limit is %d distinct measurement names (use fields or tags of an existing measurement)",
			newNames[0], integrator, len(seen)+1, c.maxMeasurements)
	}

	hour := now.Unix() / 3600
	w, known := c.devices.Get(device)
	if !known || w.hour != hour {
		if w == nil {
			w = &seriesWindow{}
		}
		w.hour = hour
		w.series = make(map[uint64]struct{}, min(len(w.series), c.maxSeries))
	}
	fresh := c.fresh
	clear(fresh)
	for i := range pts {
		h := c.seriesHash(&pts[i])
		if _, ok := w.series[h]; !ok {
			fresh[h] = struct{}{}
		}
	}
	if len(w.series)+len(fresh) > c.maxSeries {
		return payload.Errorf(payload.ReasonTooManySeries,
			"device %s would write %d distinct series (measurement and tag set) this hour; the limit is %d per device per hour: a tag whose value changes with every reading makes a series each time; put such values in fields",
			device, len(w.series)+len(fresh), c.maxSeries)
	}

	for h := range fresh {
		w.series[h] = struct{}{}
	}
	if !known { // Get has already moved a known device to the front
		c.devices.Add(device, w)
	}
	if len(newNames) > 0 {
		if seen == nil {
			seen = map[string]struct{}{}
			c.measurements[integrator] = seen
		}
		for _, m := range newNames {
			seen[m] = struct{}{}
		}
	}
	return nil
}

func (c *cardinality) seriesHash(pt *point.Point) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(pt.Measurement)
	for _, t := range pt.Tags {
		h.WriteByte(0)
		h.WriteString(t.Key)
		h.WriteByte(0)
		h.WriteString(t.Value)
	}
	return h.Sum64()
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
