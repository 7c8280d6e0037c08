// Package live is an IOC server's picture of the province: the active
// alerts, device states and maintenance windows that the alert service
// publishes, retained, under ioc/server/v1/. The picture is rebuilt from
// the broker's retained messages on every (re)connect, so a server keeps no
// state of its own that matters; every change to it becomes a Delta with a
// sequence number, kept in a ring for clients that resume, and offered in
// order to every subscriber.
//
//	broker ──retained + live──▶ Source ──▶ Picture.apply ──▶ Delta (seq)
//	                                            ├─▶ ring (resume)
//	                                            └─▶ subscribers' Offer (never blocks)
package live

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/registry"
)

// Delta types.
const (
	TypeAlert            = "alert"             // an alert raised or changed: Alert
	TypeAlertCleared     = "alert_cleared"     // an alert resolved: Alert is its last state
	TypeDevice           = "device"            // a device's state changed: Device
	TypeDeviceRemoved    = "device_removed"    // a device left the registry: Device is its last state
	TypeMaintenance      = "maintenance"       // a window opened or changed: Maintenance
	TypeMaintenanceEnded = "maintenance_ended" // a window ended: Maintenance is its last state
	TypeCounts           = "counts"            // the summary changed: Counts
	TypeSync             = "sync"              // the picture stopped or started following the broker: Sync
	TypeResolved         = "resolved"          // a root-cause alert was resolved, by whom and with what note: Resolved
)

// RecentResolved is how many resolutions the picture keeps (most recent
// first) for the walls' "recently resolved" list.
const RecentResolved = 50

// Delta is one change to the picture.
type Delta struct {
	Seq         uint64                `json:"seq"`
	Type        string                `json:"type"`
	Alert       *alert.Alert          `json:"alert,omitempty"`
	Device      *contract.DeviceState `json:"device,omitempty"`
	Maintenance *alert.Maintenance    `json:"maintenance,omitempty"`
	Counts      *Counts               `json:"counts,omitempty"`
	Sync        *SyncState            `json:"sync,omitempty"`
	Resolved    *Resolution           `json:"resolved,omitempty"`

	// JSON is the delta encoded once, shared by every client.
	JSON []byte `json:"-"`
	// Extra is a subscriber's per-delta cache (the websocket stream keeps
	// its prepared frame here); set once, under its own synchronisation.
	Extra any `json:"-"`
	once  sync.Once
	key   string // Key, computed once when the delta is emitted
}

// Once runs f the first time it is called for this delta.
func (d *Delta) Once(f func()) { d.once.Do(f) }

// Key identifies what a delta is about: a newer delta with the same key
// supersedes an older one that a slow client has not been sent yet.
// Alerts are never superseded (every change of one is news); "" means
// never coalesce.
func (d *Delta) Key() string {
	if d.key != "" {
		return d.key
	}
	return d.makeKey()
}

func (d *Delta) makeKey() string {
	switch d.Type {
	case TypeDevice, TypeDeviceRemoved:
		return "device/" + d.Device.ID
	case TypeCounts:
		return "counts"
	case TypeSync:
		return "sync"
	}
	return ""
}

// SyncState says whether the picture follows the broker. When it does
// not (the server lost the broker), StaleSince is when it stopped: what
// the picture shows is as of then, and pages say so instead of claiming
// to be live.
type SyncState struct {
	Live       bool       `json:"live"`
	StaleSince *time.Time `json:"stale_since,omitempty"`
}

// Resolution is a root-cause alert's resolution as the events topic told
// it: the alert as it was, when, who (a username, or "auto" when its
// condition cleared) and the note given.
type Resolution struct {
	Alert alert.Alert `json:"alert"`
	At    time.Time   `json:"at"`
	By    string      `json:"by"`
	Note  string      `json:"note,omitempty"`
}

// Counts is the summary the wall shows at the top: devices by district and
// kind, and active alerts by severity.
type Counts struct {
	// Devices[district][kind].
	Devices map[string]map[registry.Kind]*DeviceCount `json:"devices"`
	// Alerts counts active, unsuppressed alerts by severity; Unacked those
	// nobody has acknowledged yet.
	Alerts  map[alert.Severity]int `json:"alerts"`
	Unacked map[alert.Severity]int `json:"unacked"`
}

// DeviceCount is how many devices of a kind in a district are in each state.
type DeviceCount struct {
	Total   int `json:"total"`
	Online  int `json:"online"`
	Offline int `json:"offline"`
	Unknown int `json:"unknown"`
	// Commissioning: registered before installation, not yet heard from;
	// not counted as offline.
	Commissioning int `json:"commissioning"`
	Degraded      int `json:"degraded"`
	Maintenance   int `json:"maintenance"`
}

// Snapshot is the whole picture, as of Seq, seen through a filter.
type Snapshot struct {
	Type        string                 `json:"type"` // "snapshot"
	Epoch       string                 `json:"epoch"`
	Seq         uint64                 `json:"seq"`
	Filter      Filter                 `json:"filter"`
	Alerts      []alert.Alert          `json:"alerts"`
	Devices     []contract.DeviceState `json:"devices"`
	Maintenance []alert.Maintenance    `json:"maintenance"`
	Counts      *Counts                `json:"counts"`
	// Resolved: the last resolutions the filter matches, most recent
	// first (at most RecentResolved).
	Resolved []Resolution `json:"resolved"`
	Synced   bool         `json:"synced"`
	// Live and StaleSince: see SyncState.
	Live       bool       `json:"live"`
	StaleSince *time.Time `json:"stale_since,omitempty"`
}

// Subscriber receives deltas in order. Offer is called with the picture
// locked: it must not block or call back into the picture.
type Subscriber interface {
	Offer(d *Delta)
}

// Picture is the live state. Its zero value is not usable; call New.
type Picture struct {
	epoch string

	mu         sync.Mutex
	seq        uint64
	alerts     map[string]*alert.Alert
	devices    map[string]*contract.DeviceState
	maint      map[string]*alert.Maintenance
	counts     *Counts // last offered; never modified
	countsJSON []byte
	cnt        *Counts  // working copy
	ring       []*Delta // the last len(ring) deltas, by seq % len(ring)
	subs       map[Subscriber]struct{}
	synced     bool
	live       bool         // following the broker: synced since the last loss
	staleSince time.Time    // when live last ended; zero before the first sync
	staging    *state       // set while a (re)sync collects the retained messages
	resolved   []Resolution // most recent last, at most RecentResolved
}

type state struct {
	alerts  map[string]*alert.Alert
	devices map[string]*contract.DeviceState
	maint   map[string]*alert.Maintenance
}

func newState() *state {
	return &state{alerts: map[string]*alert.Alert{}, devices: map[string]*contract.DeviceState{}, maint: map[string]*alert.Maintenance{}}
}

// New returns an empty picture that keeps the last ringSize deltas for
// clients that resume.
func New(ringSize int) *Picture {
	if ringSize < 1 {
		ringSize = 1
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &Picture{
		epoch:   hex.EncodeToString(b[:]),
		alerts:  map[string]*alert.Alert{},
		devices: map[string]*contract.DeviceState{},
		maint:   map[string]*alert.Maintenance{},
		ring:    make([]*Delta, ringSize),
		subs:    map[Subscriber]struct{}{},
		counts:  emptyCounts(),
		cnt:     emptyCounts(),
	}
}

// Epoch names this picture's sequence: a client resumes only within the
// epoch it was given (another server, or this one restarted, has another).
func (p *Picture) Epoch() string { return p.epoch }

// Synced reports whether the picture has been built from the broker at
// least once.
func (p *Picture) Synced() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.synced
}

// Seq is the sequence number of the latest delta.
func (p *Picture) Seq() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seq
}

// Subscribe adds s and returns the snapshot it starts from, atomically:
// s is offered exactly the deltas after the snapshot's Seq.
func (p *Picture) Subscribe(s Subscriber, f Filter) Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.subs[s] = struct{}{}
	return p.snapshotLocked(f)
}

// Resume adds s and offers it, in order, the deltas after seq, when the
// ring still holds them all; otherwise it returns false and s is not added.
func (p *Picture) Resume(s Subscriber, epoch string, seq uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if epoch != p.epoch || seq > p.seq || p.seq-seq > uint64(len(p.ring)) {
		return false
	}
	for n := seq + 1; n <= p.seq; n++ {
		s.Offer(p.ring[n%uint64(len(p.ring))])
	}
	p.subs[s] = struct{}{}
	return true
}

// Unsubscribe removes s.
func (p *Picture) Unsubscribe(s Subscriber) {
	p.mu.Lock()
	delete(p.subs, s)
	p.mu.Unlock()
}

// Snapshot returns the picture through f.
func (p *Picture) Snapshot(f Filter) Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.snapshotLocked(f)
}

func (p *Picture) snapshotLocked(f Filter) Snapshot {
	s := Snapshot{Type: "snapshot", Epoch: p.epoch, Seq: p.seq, Filter: f, Synced: p.synced,
		Live: p.live, StaleSince: p.syncLocked().StaleSince,
		Alerts: []alert.Alert{}, Devices: []contract.DeviceState{}, Maintenance: []alert.Maintenance{}}
	for _, a := range p.alerts {
		if f.matchAlert(a) {
			s.Alerts = append(s.Alerts, *a)
		}
	}
	alert.SortAlerts(s.Alerts)
	for _, d := range p.devices {
		if f.matchDevice(d) {
			s.Devices = append(s.Devices, *d)
		}
	}
	sort.Slice(s.Devices, func(i, j int) bool { return s.Devices[i].ID < s.Devices[j].ID })
	for _, m := range p.maint {
		s.Maintenance = append(s.Maintenance, *m)
	}
	sort.Slice(s.Maintenance, func(i, j int) bool { return s.Maintenance[i].Target < s.Maintenance[j].Target })
	c := p.counts
	s.Counts = c
	s.Resolved = []Resolution{}
	for i := len(p.resolved) - 1; i >= 0; i-- {
		if f.matchAlert(&p.resolved[i].Alert) {
			s.Resolved = append(s.Resolved, p.resolved[i])
		}
	}
	return s
}

// Resolved records a resolution from the events topic and offers it to
// clients. Only root-cause alerts are kept: an alert folded under another
// is resolved with it, and the list shows the one that was seen.
func (p *Picture) Resolved(r Resolution) {
	if r.Alert.Parent != "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// The events topic is QoS 1, at least once: the same transition heard
	// again (its alert and time) is listed once.
	for _, had := range p.resolved {
		if had.Alert.ID == r.Alert.ID && had.At.Equal(r.At) {
			return
		}
	}
	if len(p.resolved) == RecentResolved {
		copy(p.resolved, p.resolved[1:])
		p.resolved = p.resolved[:RecentResolved-1]
	}
	p.resolved = append(p.resolved, r)
	p.emitLocked(&Delta{Type: TypeResolved, Resolved: &r})
}

// Alerts returns the active alerts f matches, most urgent first.
func (p *Picture) Alerts(f Filter) []alert.Alert {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := []alert.Alert{}
	for _, a := range p.alerts {
		if f.matchAlert(a) {
			out = append(out, *a)
		}
	}
	alert.SortAlerts(out)
	return out
}

// Alert returns one active alert.
func (p *Picture) Alert(id string) (alert.Alert, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.alerts[id]
	if !ok {
		return alert.Alert{}, false
	}
	return *a, true
}

// Device returns a device's state.
func (p *Picture) Device(id string) (contract.DeviceState, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d, ok := p.devices[id]
	if !ok {
		return contract.DeviceState{}, false
	}
	return *d, true
}

// Devices returns the device states f matches, by id.
func (p *Picture) Devices(f Filter) []contract.DeviceState {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := []contract.DeviceState{}
	for _, d := range p.devices {
		if f.matchDevice(d) {
			out = append(out, *d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Counts returns the current summary.
func (p *Picture) Counts() *Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts
}

// Update is one message from the server topics, decoded.
type Update struct {
	// Exactly one of these is set; Gone means the retained message was
	// cleared (the alert resolved, the window ended, the device removed).
	AlertID     string
	Alert       *alert.Alert
	DeviceID    string
	Device      *contract.DeviceState
	Target      string
	Maintenance *alert.Maintenance
	Gone        bool
}

// BeginSync starts collecting a fresh copy of the broker's retained state
// (called on every connect, before subscribing): updates go to it until
// EndSync.
func (p *Picture) BeginSync() {
	p.mu.Lock()
	p.staging = newState()
	p.mu.Unlock()
}

// EndSync replaces the picture with the collected copy, offering a delta
// for every difference, so connected clients converge without a reload.
func (p *Picture) EndSync() {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.staging
	if st == nil {
		return
	}
	p.staging = nil
	for id := range p.alerts {
		if _, ok := st.alerts[id]; !ok {
			p.applyLocked(Update{AlertID: id, Gone: true}, false)
		}
	}
	for id, a := range st.alerts {
		if old, ok := p.alerts[id]; !ok || !sameJSON(old, a) {
			p.applyLocked(Update{AlertID: id, Alert: a}, false)
		}
	}
	for id := range p.devices {
		if _, ok := st.devices[id]; !ok {
			p.applyLocked(Update{DeviceID: id, Gone: true}, false)
		}
	}
	for id, d := range st.devices {
		if old, ok := p.devices[id]; !ok || !sameJSON(old, d) {
			p.applyLocked(Update{DeviceID: id, Device: d}, false)
		}
	}
	for t := range p.maint {
		if _, ok := st.maint[t]; !ok {
			p.applyLocked(Update{Target: t, Gone: true}, false)
		}
	}
	for t, m := range st.maint {
		if old, ok := p.maint[t]; !ok || !sameJSON(old, m) {
			p.applyLocked(Update{Target: t, Maintenance: m}, false)
		}
	}
	p.recountLocked()
	p.synced = true
	if !p.live {
		p.live = true
		p.emitLocked(&Delta{Type: TypeSync, Sync: p.syncLocked()})
	}
}

// Lost marks the picture as no longer following the broker, as of at:
// clients are told, and keep what they have, marked stale, until the next
// EndSync.
func (p *Picture) Lost(at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.live {
		return
	}
	p.live, p.staleSince = false, at
	p.emitLocked(&Delta{Type: TypeSync, Sync: p.syncLocked()})
}

func (p *Picture) syncLocked() *SyncState {
	st := &SyncState{Live: p.live}
	if !p.live && !p.staleSince.IsZero() {
		t := p.staleSince
		st.StaleSince = &t
	}
	return st
}

func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// Apply applies one update (to the sync copy while a sync is under way).
func (p *Picture) Apply(u Update) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st := p.staging; st != nil {
		switch {
		case u.AlertID != "" && u.Gone:
			delete(st.alerts, u.AlertID)
		case u.AlertID != "":
			st.alerts[u.AlertID] = u.Alert
		case u.DeviceID != "" && u.Gone:
			delete(st.devices, u.DeviceID)
		case u.DeviceID != "":
			st.devices[u.DeviceID] = u.Device
		case u.Target != "" && u.Gone:
			delete(st.maint, u.Target)
		case u.Target != "":
			st.maint[u.Target] = u.Maintenance
		}
		return
	}
	p.applyLocked(u, true)
}

func (p *Picture) applyLocked(u Update, recount bool) {
	var (
		d       *Delta
		changed bool
	)
	switch {
	case u.AlertID != "" && u.Gone:
		old, ok := p.alerts[u.AlertID]
		if !ok {
			return
		}
		delete(p.alerts, u.AlertID)
		changed = p.cnt.alert(old, -1)
		d = &Delta{Type: TypeAlertCleared, Alert: old}
	case u.AlertID != "":
		if old := p.alerts[u.AlertID]; old != nil {
			changed = p.cnt.alert(old, -1)
		}
		p.alerts[u.AlertID] = u.Alert
		changed = p.cnt.alert(u.Alert, +1) || changed
		d = &Delta{Type: TypeAlert, Alert: u.Alert}
	case u.DeviceID != "" && u.Gone:
		old, ok := p.devices[u.DeviceID]
		if !ok {
			return
		}
		delete(p.devices, u.DeviceID)
		changed = p.cnt.device(old, -1)
		d = &Delta{Type: TypeDeviceRemoved, Device: old}
	case u.DeviceID != "":
		old := p.devices[u.DeviceID]
		p.devices[u.DeviceID] = u.Device
		if old == nil || countsKey(old) != countsKey(u.Device) {
			if old != nil {
				p.cnt.device(old, -1)
			}
			changed = p.cnt.device(u.Device, +1)
		}
		d = &Delta{Type: TypeDevice, Device: u.Device}
	case u.Target != "" && u.Gone:
		old, ok := p.maint[u.Target]
		if !ok {
			return
		}
		delete(p.maint, u.Target)
		d = &Delta{Type: TypeMaintenanceEnded, Maintenance: old}
	case u.Target != "":
		p.maint[u.Target] = u.Maintenance
		d = &Delta{Type: TypeMaintenance, Maintenance: u.Maintenance}
	default:
		return
	}
	p.emitLocked(d)
	if recount && changed {
		p.publishCountsLocked()
	}
}

func (p *Picture) emitLocked(d *Delta) {
	p.seq++
	d.Seq = p.seq
	d.JSON, _ = json.Marshal(d)
	d.key = d.makeKey() // once, not once per subscriber
	p.ring[d.Seq%uint64(len(p.ring))] = d
	for s := range p.subs {
		s.Offer(d)
	}
}

// recountLocked recomputes the summary from scratch (after a sync) and
// offers it when it changed.
func (p *Picture) recountLocked() {
	p.cnt = emptyCounts()
	for _, d := range p.devices {
		p.cnt.device(d, +1)
	}
	for _, a := range p.alerts {
		p.cnt.alert(a, +1)
	}
	p.publishCountsLocked()
}

// publishCountsLocked offers a copy of the working counts when they differ
// from the last offered (copies are never modified: snapshots share them).
func (p *Picture) publishCountsLocked() {
	b, _ := json.Marshal(p.cnt)
	if string(b) == string(p.countsJSON) {
		return
	}
	c := &Counts{}
	_ = json.Unmarshal(b, c)
	p.counts, p.countsJSON = c, b
	p.emitLocked(&Delta{Type: TypeCounts, Counts: c})
}

// countsKey is what of a device the summary counts.
func countsKey(d *contract.DeviceState) string {
	return fmt.Sprint(d.District, d.Kind, d.Status, d.Health == "degraded", d.Maintenance)
}

// device adds (sign +1) or removes (-1) a device's contribution.
func (c *Counts) device(d *contract.DeviceState, sign int) bool {
	byKind := c.Devices[d.District]
	if byKind == nil {
		byKind = map[registry.Kind]*DeviceCount{}
		c.Devices[d.District] = byKind
	}
	n := byKind[d.Kind]
	if n == nil {
		n = &DeviceCount{}
		byKind[d.Kind] = n
	}
	n.Total += sign
	switch d.Status {
	case "online":
		n.Online += sign
	case "offline":
		n.Offline += sign
	case "commissioning":
		n.Commissioning += sign
	default:
		n.Unknown += sign
	}
	if d.Health == "degraded" {
		n.Degraded += sign
	}
	if d.Maintenance {
		n.Maintenance += sign
	}
	if n.Total == 0 {
		delete(byKind, d.Kind)
		if len(byKind) == 0 {
			delete(c.Devices, d.District)
		}
	}
	return true
}

// alert adds or removes an alert's contribution; false when it has none.
func (c *Counts) alert(a *alert.Alert, sign int) bool {
	if a.Suppressed {
		return false
	}
	c.Alerts[a.Severity] += sign
	if a.Ack == nil {
		c.Unacked[a.Severity] += sign
	}
	return true
}

func emptyCounts() *Counts {
	c := &Counts{Devices: map[string]map[registry.Kind]*DeviceCount{}, Alerts: map[alert.Severity]int{}, Unacked: map[alert.Severity]int{}}
	for _, s := range []alert.Severity{alert.Critical, alert.Major, alert.Minor, alert.Info} {
		c.Alerts[s], c.Unacked[s] = 0, 0
	}
	return c
}
