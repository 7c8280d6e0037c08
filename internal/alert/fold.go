package alert

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/ioc-vn/ioc/internal/registry"
)

// Root cause. When an NVR or gateway goes offline, its children's offline
// alerts fold under its one alert (Alert.Parent). When most of a district
// goes silent, one district alert, with the devices' alerts folded under
// it. When a parent comes back, children still offline SurfaceAfter later
// are shown on their own again.

const districtPrefix = "district:"

// districtState counts, for one silence rule and district, how many of the
// devices it watches are offline.
type districtState struct {
	rule           *Rule
	id             string
	dev            *registry.Device // the district's pseudo-device
	total, offline int
	devices        []string
	s              *ruleState // the district alert's state, once raised
}

func (e *Engine) district(r *Rule, id string) *districtState {
	k := stateKey{r.ID, id}
	ds := e.districts[k]
	if ds == nil {
		ds = &districtState{rule: r, id: id}
		e.districts[k] = ds
	}
	ds.rule = r
	return ds
}

// pseudo is the district as a device, so that its alert has the same
// lifecycle as any other (ack, resolve, re-notify, maintenance).
func (ds *districtState) pseudo(reg *registry.Registry) *registry.Device {
	name := ds.id
	if d, ok := reg.District(ds.id); ok && d.Name != "" {
		name = d.Name
	}
	if ds.dev == nil || ds.dev.Name != name {
		ds.dev = &registry.Device{ID: districtPrefix + ds.id, Kind: DistrictKind, Name: name, District: ds.id}
	}
	return ds.dev
}

// districtMessage is a district outage's message; value is
// "<offline>/<total>" devices of the district called name.
func districtMessage(name string, value any) map[string]string {
	return map[string]string{
		"vi": fmt.Sprintf("Mất kết nối diện rộng tại %s: %v thiết bị", name, value),
		"en": fmt.Sprintf("Widespread outage in %s: %v devices offline", name, value),
	}
}

// need is how many offline devices make a district outage.
func (ds *districtState) need() int {
	return max(ds.rule.Mass.MinDevices, int(math.Ceil(ds.rule.Mass.Fraction*float64(ds.total))))
}

// indexDistricts counts, per rule whose alerts mean offline and district,
// the devices it watches there (the offline counts are recounted as
// alerts are restored or kept).
func (e *Engine) indexDistricts() {
	for _, ds := range e.districts {
		ds.total, ds.offline, ds.devices = 0, 0, ds.devices[:0]
	}
	for _, r := range e.rules.List {
		if !r.eval.offline() || r.Mass.Off {
			continue
		}
		for _, d := range e.reg.Devices() {
			if _, ok := timeout(r, d); !ok || !r.Applies(d) {
				continue
			}
			ds := e.district(r, d.District)
			ds.total++
			ds.devices = append(ds.devices, d.ID)
		}
	}
}

func (e *Engine) districtOf(s *ruleState) *districtState {
	if !s.rule.eval.offline() {
		return nil
	}
	return e.districts[stateKey{s.rule.ID, s.dev.District}]
}

// countOffline moves a district's offline count when a device's silence
// alert opens (+1) or closes (-1).
func (e *Engine) countOffline(s *ruleState, delta int) {
	if s.dev.Kind == DistrictKind {
		return
	}
	if ds := e.districtOf(s); ds != nil {
		ds.offline += delta
	}
}

// checkDistrict raises or clears the district alert of s's district after
// its offline count changed. It clears at half the count that raises it.
func (e *Engine) checkDistrict(out []Transition, s *ruleState, now time.Time) []Transition {
	ds := e.districtOf(s)
	if ds == nil || ds.total < ds.rule.Mass.MinDevices {
		return out
	}
	need := ds.need()
	value := fmt.Sprintf("%d/%d", ds.offline, ds.total)
	active := ds.s != nil && ds.s.active()
	switch {
	case !active && ds.offline*2 < need && ds.s != nil:
		ds.s.waitClear = false
	case !active && ds.offline >= need && (ds.s == nil || !ds.s.waitClear):
		ds.s = e.st(ds.rule, ds.pseudo(e.reg))
		out = e.raise(out, ds.s, value, now)
	case active && ds.offline*2 < need:
		out = e.clear(out, ds.s, value, now)
	case active && ds.s.alert.Value != value:
		// The wall shows the current count, not the one at raise time.
		a := ds.s.alert
		a.Value, a.Message, a.UpdatedAt = value, e.render(ds.s, value), now
		out = append(out, Transition{Kind: Updated, At: now, Alert: *a})
	}
	return out
}

// foldTarget is the alert a new offline alert of s belongs under: its
// parent's, else its district's, else none.
func (e *Engine) foldTarget(s *ruleState) string {
	if !s.rule.eval.offline() || s.dev.Kind == DistrictKind {
		return ""
	}
	if p := s.dev.Parent; p != "" {
		if ps := e.state[stateKey{s.rule.ID, p}]; ps != nil && ps.active() {
			return ps.id
		}
	}
	if ds := e.districtOf(s); ds != nil && ds.s != nil && ds.s.active() {
		return ds.s.id
	}
	return ""
}

// children are the devices whose offline alerts fold under s's.
func (e *Engine) children(s *ruleState) []string {
	if s.dev.Kind == DistrictKind {
		if ds := e.districtOf(s); ds != nil {
			return ds.devices
		}
		return nil
	}
	if de := e.devs[s.dev.ID]; de != nil {
		return de.children
	}
	return nil
}

func (e *Engine) hasChildren(s *ruleState) bool { return len(e.children(s)) > 0 }

// foldChildren puts the active offline alerts of s's children under s. A
// device's parent takes them from the district; the district takes only
// those under nothing.
func (e *Engine) foldChildren(out []Transition, s *ruleState, now time.Time) []Transition {
	district := s.dev.Kind == DistrictKind
	for _, id := range e.children(s) {
		cs := e.state[stateKey{s.rule.ID, id}]
		if cs == nil || !cs.active() || cs.alert.Parent == s.id {
			continue
		}
		if p := cs.alert.Parent; p != "" && (district || p != e.districtAlertID(cs)) {
			continue
		}
		cs.alert.Parent = s.id
		cs.alert.UpdatedAt = now
		out = append(out, Transition{Kind: Folded, At: now, Alert: *cs.alert})
	}
	return out
}

func (e *Engine) districtAlertID(s *ruleState) string {
	if ds := e.districtOf(s); ds != nil && ds.s != nil {
		return ds.s.id
	}
	return ""
}

// surface shows on their own the children still folded under s, whose
// alert has closed: they stayed down after their parent came back.
func (e *Engine) surface(out []Transition, s *ruleState, now time.Time) []Transition {
	for _, id := range e.children(s) {
		cs := e.state[stateKey{s.rule.ID, id}]
		if cs == nil || !cs.active() || cs.alert.Parent != s.id {
			continue
		}
		cs.alert.Parent = e.foldTarget(cs)
		cs.alert.UpdatedAt = now
		kind := Surfaced
		if cs.alert.Parent != "" {
			kind = Folded
		} else {
			e.armTarget(cs, now) // its own targets count again
		}
		out = append(out, Transition{Kind: kind, At: now, Alert: *cs.alert})
	}
	return out
}

// goSilent raises the offline alerts of devices whose silence deadline
// passed in one Tick. Parents go first, so children fold under them as
// they raise; districts are counted with the whole group first, so that a
// mass outage raises its district alert before the devices' alerts, which
// fold under it, rather than a wall of single alerts.
func (e *Engine) goSilent(out []Transition, silent []*ruleState, now time.Time) []Transition {
	sort.SliceStable(silent, func(i, j int) bool { return e.hasChildren(silent[i]) && !e.hasChildren(silent[j]) })
	touched := map[*districtState]*ruleState{}
	for _, s := range silent {
		if ds := e.districtOf(s); ds != nil {
			ds.offline++ // counted ahead; raise counts it again
			touched[ds] = s
		}
	}
	for _, s := range touched {
		out = e.checkDistrict(out, s, now)
	}
	for _, s := range silent {
		if ds := e.districtOf(s); ds != nil {
			ds.offline--
		}
		out = e.raise(out, s, fmt.Sprintf("silent %s", now.Sub(s.lastSeen).Round(time.Second)), now)
	}
	for _, s := range touched {
		out = e.checkDistrict(out, s, now)
	}
	return out
}
