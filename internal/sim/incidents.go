package sim

import (
	"fmt"
	"time"

	"github.com/ioc-vn/ioc/internal/registry"
)

// Incident kinds, each what the shipped rules (configs/rules.yaml) raise on.
const (
	TamperedCamera = "tampered-camera" // camera-tamper, at once
	RecorderFull   = "recorder-disk"   // recorder-disk-full within a minute or two
	NVROutage      = "nvr-outage"      // device-offline of the recorder, its cameras folded under it
	FlappingCamera = "flapping-camera" // device-offline raised and reopened
	PM25Spike      = "pm25-spike"      // pm25-high after 5 minutes above 150
	RisingRiver    = "rising-river"    // water-rising within a few readings
	PowerCut       = "power-cut"       // device-offline of a whole district
)

// Kinds lists every incident kind, in the order the script starts them.
var Kinds = []string{TamperedCamera, RecorderFull, NVROutage, PM25Spike, RisingRiver, FlappingCamera, PowerCut}

// script starts each kind of incident once, early, so a newcomer sees
// every kind within minutes; then one random incident every
// IncidentEvery. The caller holds mu.
func (s *Simulator) script(now time.Time) {
	offsets := []time.Duration{5 * time.Second, 15 * time.Second, 30 * time.Second, 45 * time.Second, 60 * time.Second, 90 * time.Second, 150 * time.Second}
	for i, kind := range Kinds {
		s.at(now.Add(offsets[i]), func(now time.Time) { s.start(kind, now) })
	}
	var random func(now time.Time)
	random = func(now time.Time) {
		s.start(Kinds[s.rnd.IntN(len(Kinds))], now)
		s.at(now.Add(s.cfg.IncidentEvery), random)
	}
	s.at(now.Add(offsets[len(offsets)-1]+s.cfg.IncidentEvery), random)
}

// Start begins an incident of the given kind now, on a device the
// simulator picks; it ends by itself. It returns the incident's name.
func (s *Simulator) Start(kind string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := s.start(kind, time.Now())
	if name == "" {
		return "", fmt.Errorf("simulator: no device free for a %s incident", kind)
	}
	return name, nil
}

// start begins an incident; the caller holds mu.
func (s *Simulator) start(kind string, now time.Time) string {
	pick := func(match func(*device) bool) *device {
		var c []*device
		for _, d := range s.devices {
			if match(d) && !d.silent && !d.flapping && !d.filling && d.override == 0 && d.rise == 0 {
				c = append(c, d)
			}
		}
		if len(c) == 0 {
			return nil
		}
		return c[s.rnd.IntN(len(c))]
	}
	kindIs := func(k registry.Kind) func(*device) bool { return func(d *device) bool { return d.d.Kind == k } }
	typeIs := func(t string) func(*device) bool { return func(d *device) bool { return d.typ == t } }
	minutes := func(lo, hi int) time.Duration { return time.Duration(lo+s.rnd.IntN(hi-lo+1)) * time.Minute }

	var d *device
	var what string
	var dur time.Duration
	var end func()
	switch kind {
	case TamperedCamera:
		if d = pick(kindIs(registry.Camera)); d == nil {
			return ""
		}
		what = "tamper event"
		s.publish(d, topicOf(d.d, "event"), fmt.Appendf(nil, `{"ts":%d,"type":"tamper","zone":"ống kính"}`, now.UnixMilli()))
		dur, end = time.Minute, func() {}
	case RecorderFull:
		if d = pick(kindIs(registry.NVR)); d == nil {
			return ""
		}
		what, dur = "recorder disk filling", minutes(6, 12)
		d.filling = true
		end = func() { d.filling, d.storage = false, 62 }
	case NVROutage:
		if d = pick(kindIs(registry.NVR)); d == nil {
			return ""
		}
		what, dur = fmt.Sprintf("recorder and its %d cameras offline", len(s.children[d.d.ID])), minutes(4, 8)
		s.silence(append([]*device{d}, s.children[d.d.ID]...), now, true)
		end = func() { s.silence(append([]*device{d}, s.children[d.d.ID]...), time.Now(), false) }
	case FlappingCamera:
		if d = pick(kindIs(registry.Camera)); d == nil {
			return ""
		}
		what, dur = "camera connection flapping", minutes(5, 8)
		d.flapping, d.period = true, min(20*time.Second, s.cfg.StatusEvery)
		end = func() { d.flapping, d.down, d.period = false, false, s.cfg.StatusEvery }
	case PM25Spike:
		if d = pick(typeIs(AirQuality)); d == nil {
			return ""
		}
		what, dur = "PM2.5 spike", minutes(8, 14)
		d.override = 170 + s.rnd.Float64()*90
		end = func() { d.override = 0 }
	case RisingRiver:
		if d = pick(typeIs(WaterLevel)); d == nil {
			return ""
		}
		what, dur = "river rising 6 cm a reading", minutes(5, 10)
		d.rise = 6
		end = func() { d.rise = 0 }
	case PowerCut:
		ds := s.reg.Districts()
		if len(ds) < 2 {
			return ""
		}
		district := ds[1+s.rnd.IntN(len(ds)-1)].ID // not the first (the city): the wall stays readable
		var all []*device
		for _, x := range s.devices {
			if x.d.District == district && !x.silent {
				all = append(all, x)
			}
		}
		if len(all) == 0 {
			return ""
		}
		what, dur = fmt.Sprintf("power cut: %d devices", len(all)), minutes(4, 8)
		s.silence(all, now, true)
		end = func() { s.silence(all, time.Now(), false) }
		name := kind + "/district:" + district
		s.begin(name, what, now, dur, end)
		return name
	default:
		return ""
	}
	name := kind + "/" + d.d.ID
	s.begin(name, what, now, dur, end)
	return name
}

func (s *Simulator) begin(name, what string, now time.Time, dur time.Duration, end func()) {
	s.active[name] = what
	s.log.Info("incident started", "incident", name, "what", what, "for", dur)
	s.at(now.Add(dur), func(time.Time) {
		end()
		delete(s.active, name)
		s.log.Info("incident ended", "incident", name)
	})
}

// silence takes devices offline, as their last wills would announce, or
// brings them back; the caller holds mu.
func (s *Simulator) silence(ds []*device, now time.Time, off bool) {
	for _, d := range ds {
		d.silent = off
		if off {
			s.publish(d, topicOf(d.d, "status"), fmt.Appendf(nil, `{"ts":%d,"state":"offline"}`, now.UnixMilli()))
		} else {
			d.next = now.Add(time.Duration(s.rnd.Int64N(int64(2 * time.Second))))
		}
	}
}
