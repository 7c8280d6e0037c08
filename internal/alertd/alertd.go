// Package alertd runs the alert engine inside ingest: it feeds the engine
// every stored message (ingest.Observer) and the clock (a timer on the
// engine's next deadline, no polling sweep), applies operators' commands,
// saves every transition (alerts.db in the data directory, then the store
// as history), and publishes the live picture to the broker's server topic
// tree as retained messages, so any number of IOC servers get a snapshot on
// connect and every change after it, in order.
//
//	pipeline acker ──Stored──▶ engine (under mu) ──transitions──▶ pending
//	timer / commands ────────▶ engine (under mu) ──────────────▶ pending
//	loop: pending ──▶ alerts.db (one transaction) ──▶ retained topics, events
//	history: alerts.db outbox ──▶ store (measurement alert / maintenance)
package alertd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/ingest"
	"github.com/ioc-vn/ioc/internal/lease"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/store"
	"github.com/prometheus/client_golang/prometheus"
)

// Config is the alerts section of ingest's configuration.
type Config struct {
	// Rules is the rules file; empty turns alerting off.
	Rules string `yaml:"rules"`
	// FlapWindow, Renotify and SurfaceAfter: see alert.Options.
	FlapWindow   time.Duration `yaml:"flap_window"`
	Renotify     time.Duration `yaml:"renotify"`
	SurfaceAfter time.Duration `yaml:"surface_after"`
	// MaxAge: data stamped longer ago is stored but raises no alert (see
	// alert.Options.MaxAge); ingest tells the integrator on _errors.
	MaxAge time.Duration `yaml:"max_age"`
	// Targets are the response targets per severity (time to acknowledge,
	// time to restore); a missed one is an ack_overdue or restore_overdue
	// transition. None by default.
	Targets map[alert.Severity]alert.Target `yaml:"targets"`
	// Forward makes this ingest forward what it stores to the alert owner
	// (another ingest of its shared group) instead of running alerting.
	Forward bool `yaml:"forward"`
	// Lease lets several ingests of a shared group each own alerting, one
	// at a time, decided by a lease on the broker (docs/SCALING.md).
	Lease LeaseConfig `yaml:"lease"`
}

// LeaseConfig is alerts.lease.
type LeaseConfig struct {
	Enabled       bool `yaml:"enabled"`
	lease.Options `yaml:",inline"`
}

// Publisher sends to the broker; the embedded broker and mqttsub.Client are.
type Publisher interface {
	Publish(topic string, qos byte, retain bool, payload []byte) error
}

// Deps are the service's collaborators.
type Deps struct {
	Rules     *alert.Rules
	Registry  *registry.Registry
	Store     store.Writer // history; nil keeps it in alerts.db only
	Publisher Publisher
	DataDir   string
	Log       *slog.Logger
	Metrics   prometheus.Registerer
	Now       func() time.Time
	// Notify, if set, is handed every alert transition once saved
	// (internal/notify); it must not block.
	Notify func([]alert.Transition)
	// Standby starts the service standing by: it evaluates and publishes
	// nothing until TakeOver (another ingest may own alerting).
	Standby bool
}

// Service owns the alert engine.
type Service struct {
	log     *slog.Logger
	now     func() time.Time
	pub     Publisher
	db      *stateDB
	history store.Writer
	notify  func([]alert.Transition)
	m       *metrics
	opts    alert.Options
	liveIDs []string // commissioning devices gone live, as alerts.db had them at start

	mu      sync.Mutex // guards everything below
	owning  bool       // evaluating and publishing: false while standing by
	eng     *alert.Engine
	reg     *registry.Registry
	rules   *alert.Rules
	pending []item
	windows []alert.Window  // condition windows changed, not yet saved
	seen    map[string]bool // devices heard from since start
	armed   time.Time       // when the loop's timer fires; zero: not armed
	seq     uint64

	answered      map[string]bool // command ids answered lately
	answeredOrder []string

	wake        chan struct{}
	historyWake chan struct{}

	// Loop goroutine only.
	devices map[string]*deviceState
	live    map[string]bool // commissioning devices gone live (saved)
}

// item is one thing for the loop to save and publish: a transition, a
// device heard from for the first time, or a command's result.
type item struct {
	rec     record
	seen    string
	live    *liveRecord // a commissioning device went live
	result  *contract.CommandResult
	refresh bool // the registry changed: republish every device
	resync  bool // the broker may have missed messages: republish everything
	// sweep lists topics the broker retains under contract.RetainedFilters: those
	// the engine does not hold are cleared.
	sweep []string
	// takeover: this process now owns alerting, from this retained state.
	takeover *Retained
}

// record is a transition as saved, published on contract.EventsTopic and written
// to the store.
type record struct {
	Seq         uint64             `json:"seq"`
	Kind        string             `json:"kind"`
	At          time.Time          `json:"at"`
	Alert       *alert.Alert       `json:"alert,omitempty"`
	Maintenance *alert.Maintenance `json:"maintenance,omitempty"`
	By          string             `json:"by,omitempty"`
	Note        string             `json:"note,omitempty"`
}

// New restores the engine from alerts.db in d.DataDir and arms it.
func New(ctx context.Context, c Config, d Deps) (*Service, error) {
	if d.Rules == nil || d.Registry == nil || d.Publisher == nil {
		return nil, errors.New("alertd: Rules, Registry and Publisher are required")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	db, err := openStateDB(ctx, filepath.Join(d.DataDir, "alerts.db"))
	if err != nil {
		return nil, err
	}
	for sev, t := range c.Targets {
		if !sev.Valid() || t.Acknowledge < 0 || t.Restore < 0 {
			return nil, fmt.Errorf("alerts.targets.%s: a severity (critical, major, minor, info) with durations that are not negative", sev)
		}
	}
	o := alert.Options{FlapWindow: c.FlapWindow, Renotify: c.Renotify, SurfaceAfter: c.SurfaceAfter, MaxAge: c.MaxAge, Targets: c.Targets}
	if o.FlapWindow <= 0 {
		o.FlapWindow = alert.DefaultOptions.FlapWindow
	}
	now := d.Now()
	saved, maint, err := db.load(ctx, now, o.FlapWindow)
	if err != nil {
		db.Close()
		return nil, err
	}
	windows, err := db.loadWindows(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	seq, err := db.lastSeq(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	live, err := db.loadLive(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &Service{
		log: d.Log, now: d.Now, pub: d.Publisher, db: db, history: d.Store, notify: d.Notify,
		eng: alert.NewEngine(d.Rules, d.Registry, o), reg: d.Registry, rules: d.Rules,
		seen: map[string]bool{}, seq: seq, opts: o, liveIDs: live, owning: !d.Standby, answered: map[string]bool{},
		wake: make(chan struct{}, 1), historyWake: make(chan struct{}, 1),
		devices: map[string]*deviceState{}, live: map[string]bool{},
	}
	s.m = newMetrics(d.Metrics, s)
	if skipped := s.eng.Restore(saved, maint, now); len(skipped) > 0 {
		s.log.Info("alerts: saved alerts whose rule or device is gone were not restored", "alerts", skipped)
	}
	s.eng.RestoreWindows(windows, now)
	s.eng.RestoreLive(live)
	for _, id := range live {
		s.live[id] = true
	}
	s.eng.Start(now)
	if err := db.replaceWindows(ctx, s.eng.Windows()); err != nil {
		db.Close()
		return nil, err
	}
	s.eng.WindowChanges() // saved just now
	s.applyConfigMaintenance(nil, now)
	active := 0
	for _, a := range saved {
		if a.State == alert.Active {
			active++
		}
	}
	s.log.Info("alerts: engine started", "rules", len(d.Rules.List), "restored_active", active, "maintenance", len(s.eng.Maintenance()))
	return s, nil
}

// applyConfigMaintenance opens the rules file's maintenance windows not
// yet open, and (on reload) ends those the file no longer declares.
// Called with mu held.
func (s *Service) applyConfigMaintenance(old *alert.Rules, now time.Time) {
	open := map[string]bool{}
	for _, m := range s.eng.Maintenance() {
		open[m.Target] = true
	}
	declared := map[string]bool{}
	for _, m := range s.rules.Maintenance {
		declared[m.Target] = true
		if open[m.Target] || (!m.Until.IsZero() && !m.Until.After(now)) {
			continue
		}
		trs, err := s.eng.StartMaintenance(m, now)
		if err != nil {
			s.log.Warn("alerts: maintenance from the rules file refused", "target", m.Target, "err", err)
			continue
		}
		s.queue(trs)
	}
	if old == nil {
		return
	}
	for _, m := range old.Maintenance {
		if !declared[m.Target] && open[m.Target] {
			if trs, err := s.eng.EndMaintenance(m.Target, "config", now); err == nil {
				s.queue(trs)
			}
		}
	}
}

// queue numbers transitions and hands them to the loop. Called with mu held.
func (s *Service) queue(trs []alert.Transition) {
	for i := range trs {
		t := &trs[i]
		s.seq++
		r := record{Seq: s.seq, Kind: string(t.Kind), At: t.At, Maintenance: t.Maintenance, By: t.By, Note: t.Note}
		if t.Maintenance == nil {
			a := t.Alert
			r.Alert = &a
		}
		s.pending = append(s.pending, item{rec: r})
		s.m.transitions.WithLabelValues(string(t.Kind)).Inc()
	}
}

func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Stored evaluates stored messages: ingest.Observer.
func (s *Service) Stored(msgs []ingest.Stored) {
	now := s.now()
	s.mu.Lock()
	if !s.owning {
		s.mu.Unlock()
		return
	}
	n := len(s.pending)
	for _, m := range msgs {
		if trs := s.eng.Observe(m.Device, m.Points, now); len(trs) > 0 {
			s.queue(trs)
		}
		if !s.seen[m.Device.ID] {
			if _, ok := s.reg.Device(m.Device.ID); ok {
				s.seen[m.Device.ID] = true
				s.pending = append(s.pending, item{seen: m.Device.ID})
			}
		}
	}
	s.tookLive("data", now)
	if ws := s.eng.WindowChanges(); len(ws) > 0 {
		s.windows = append(s.windows, ws...)
	}
	wake := len(s.pending) > n || len(s.windows) > 0
	if next, ok := s.eng.NextDeadline(); ok && (s.armed.IsZero() || next.Before(s.armed)) {
		wake = true
	}
	// The loop's timer waits out a duration; if the clock has since passed
	// the deadline it was armed for (a clock stepped forward, or the clock
	// a test moves), the loop runs what is due now rather than when that
	// duration ends.
	if !s.armed.IsZero() && !now.Before(s.armed) {
		wake = true
	}
	s.mu.Unlock()
	s.m.observed.Add(float64(len(msgs)))
	if wake {
		s.poke()
	}
}

// Reload swaps in new rules and/or registry (nil keeps the current one),
// keeping alert state.
func (s *Service) Reload(rules *alert.Rules, reg *registry.Registry) {
	now := s.now()
	s.mu.Lock()
	old := s.rules
	if rules != nil {
		s.rules = rules
	}
	if reg != nil {
		s.reg = reg
	}
	s.queue(s.eng.Reconfigure(rules, reg, now))
	if rules != nil {
		s.applyConfigMaintenance(old, now)
	}
	if reg != nil {
		s.pending = append(s.pending, item{refresh: true})
	}
	s.mu.Unlock()
	s.poke()
}

// Resync republishes every active alert, window and device state: after
// reconnecting to an external broker that may have lost them.
func (s *Service) Resync() {
	s.mu.Lock()
	s.pending = append(s.pending, item{resync: true})
	s.mu.Unlock()
	s.poke()
}

// Sweep takes the topics on which the broker holds a retained message
// under contract.RetainedFilters (listed on every connect) and clears those the
// engine does not hold: a broker restored from a save older than the last
// resolve would otherwise bring a resolved alert back to every wall, where
// no one can acknowledge or resolve it.
func (s *Service) Sweep(retained []string) {
	if retained == nil {
		retained = []string{}
	}
	s.mu.Lock()
	s.pending = append(s.pending, item{sweep: retained})
	s.mu.Unlock()
	s.poke()
}

// clearGhosts clears the retained topics the engine does not hold. It runs
// on the loop, so a transition queued before it has been published and one
// queued after it is published after the clear.
func (s *Service) clearGhosts(retained []string) {
	s.mu.Lock()
	held := map[string]bool{}
	for _, a := range s.eng.Active() {
		held[contract.AlertTopic(a.ID)] = true
	}
	for _, m := range s.eng.Maintenance() {
		held[contract.MaintenanceTopic(m.Target)] = true
	}
	s.mu.Unlock()
	var cleared []string
	for _, t := range retained {
		if !held[t] {
			s.clearRetained(t)
			cleared = append(cleared, t)
		}
	}
	if len(cleared) > 0 {
		s.m.ghosts.Add(float64(len(cleared)))
		s.log.Warn("alerts: cleared retained messages the alert service does not hold (broker restored from an old save, or forged)", "count", len(cleared), "first", cleared[0])
	}
}

// Active returns the active alerts (none while standing by).
func (s *Service) Active() []alert.Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.owning {
		return nil
	}
	return s.eng.Active()
}

// Close releases alerts.db when Run was never started (Run closes it
// itself when it returns).
func (s *Service) Close() error { return s.db.Close() }

// Run evaluates deadlines, saves and publishes until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	defer s.db.Close()
	histCtx, stopHist := context.WithCancel(context.WithoutCancel(ctx))
	histDone := make(chan struct{})
	go func() {
		defer close(histDone)
		s.writeHistory(histCtx)
	}()
	defer func() {
		stopHist()
		<-histDone
	}()

	if s.Owning() {
		s.publishSnapshot()
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	// Saving is not cut short by the end of ctx: what was decided is kept.
	saveCtx := context.WithoutCancel(ctx)
	for {
		s.flush(saveCtx)
		s.mu.Lock()
		next, ok := s.eng.NextDeadline()
		ok = ok && s.owning
		if ok {
			s.armed = next
		} else {
			s.armed = time.Time{}
		}
		s.mu.Unlock()
		timer.Stop()
		if ok { // on the service's clock, which tests inject
			timer.Reset(max(next.Sub(s.now()), 0))
		}
		select {
		case <-ctx.Done():
			s.flush(saveCtx)
			return nil
		case <-timer.C:
			now := s.now()
			s.mu.Lock()
			if s.owning {
				s.queue(s.eng.Tick(now))
			}
			s.mu.Unlock()
		case <-s.wake:
		}
	}
}

// flushChunk bounds how many items are saved before they are published, so
// that the first alerts of a mass outage (its district alerts) reach the
// wall without waiting for thousands of device alerts to be saved.
const flushChunk = 500

// flush saves and publishes what is pending, in order.
func (s *Service) flush(ctx context.Context) {
	s.mu.Lock()
	if !s.owning { // standing by: another process publishes
		s.pending, s.windows = nil, nil
		s.mu.Unlock()
		return
	}
	items := s.pending
	s.pending = nil
	ws := append(s.windows, s.eng.WindowChanges()...)
	s.windows = nil
	s.mu.Unlock()
	if len(items) == 0 && len(ws) > 0 {
		s.flushItems(ctx, nil, ws)
	}
	for len(items) > 0 {
		n := min(len(items), flushChunk)
		s.flushItems(ctx, items[:n], ws)
		items, ws = items[n:], nil
	}
}

// flushItems saves items' transitions and the condition windows ws in one
// transaction, then publishes items.
func (s *Service) flushItems(ctx context.Context, items []item, ws []alert.Window) {
	recs := make([]record, 0, len(items))
	var live []liveRecord
	for _, it := range items {
		switch {
		case it.live != nil:
			live = append(live, *it.live)
		case it.seen == "" && it.result == nil && !it.refresh && !it.resync && it.sweep == nil && it.takeover == nil:
			recs = append(recs, it.rec)
		}
	}
	if len(live) > 0 {
		if err := s.db.saveLive(ctx, live); err != nil {
			s.m.saveErrors.Inc()
			s.log.Error("alerts: saving commissioned devices failed", "err", err, "devices", len(live))
		}
	}
	if len(recs) > 0 || len(ws) > 0 {
		start := time.Now()
		if err := s.db.apply(ctx, recs, ws); err != nil {
			// The broker still gets the picture; a restart would re-derive
			// these alerts from the devices' next messages.
			s.m.saveErrors.Inc()
			s.log.Error("alerts: saving transitions failed", "err", err, "transitions", len(recs), "windows", len(ws))
		}
		s.m.saveSeconds.Observe(time.Since(start).Seconds())
	}
	if len(recs) > 0 {
		select {
		case s.historyWake <- struct{}{}:
		default:
		}
		if s.notify != nil {
			s.notify(transitions(recs))
		}
	}
	touched := map[string]bool{}
	for _, it := range items {
		switch {
		case it.live != nil:
			s.live[it.live.Device] = true
			touched[it.live.Device] = true
			s.log.Info("alerts: commissioning device is live", "device", it.live.Device, "by", it.live.By)
		case it.result != nil:
			s.publish(contract.ResultsTopic, false, it.result)
		case it.seen != "":
			touched[it.seen] = true
			s.device(it.seen).seen = true
		case it.refresh:
			s.refreshDevices(touched)
		case it.resync:
			for _, d := range s.devices {
				d.last = nil
			}
			s.publishSnapshot()
		case it.sweep != nil:
			s.clearGhosts(it.sweep)
		case it.takeover != nil:
			s.tookOver(ctx, it.takeover)
		default:
			s.publishRecord(&it.rec, touched)
		}
	}
	s.publishDevices(touched)
}

func (s *Service) publishRecord(r *record, touched map[string]bool) {
	s.publish(contract.EventsTopic, false, r)
	if m := r.Maintenance; m != nil {
		topic := contract.MaintenanceTopic(m.Target)
		if r.Kind == string(alert.MaintenanceEnded) {
			s.clearRetained(topic)
		} else {
			s.publish(topic, true, m)
		}
		s.maintenanceChanged(m, r.Kind == string(alert.MaintenanceStarted), touched)
		return
	}
	a := r.Alert
	topic := contract.AlertTopic(a.ID)
	if a.State == alert.Active {
		s.publish(topic, true, a)
	} else {
		s.clearRetained(topic)
	}
	if !a.IsDistrict() {
		s.alertChanged(a)
		touched[a.Device] = true
	}
}

func (s *Service) publish(topic string, retain bool, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("alerts: encoding", "topic", topic, "err", err)
		return
	}
	if err := s.pub.Publish(topic, 1, retain, b); err != nil {
		s.m.publishErrors.Inc()
		s.log.Warn("alerts: publish failed", "topic", topic, "err", err)
	}
}

// clearRetained removes a retained message (MQTT: an empty retained
// publish), which subscribers also receive as the signal that it is gone.
func (s *Service) clearRetained(topic string) {
	if err := s.pub.Publish(topic, 1, true, nil); err != nil {
		s.m.publishErrors.Inc()
		s.log.Warn("alerts: publish failed", "topic", topic, "err", err)
	}
}

// publishSnapshot publishes, retained, every active alert, every open
// maintenance window and every device's state: what a restarted engine
// holds replaces what the broker kept.
func (s *Service) publishSnapshot() {
	s.mu.Lock()
	active := s.eng.Active()
	maint := s.eng.Maintenance()
	devs := s.reg.Devices()
	s.mu.Unlock()
	touched := map[string]bool{}
	for i := range active {
		a := &active[i]
		s.publish(contract.AlertTopic(a.ID), true, a)
		if !a.IsDistrict() {
			s.alertChanged(a)
		}
	}
	for i := range maint {
		s.publish(contract.MaintenanceTopic(maint[i].Target), true, &maint[i])
		s.maintenanceChanged(&maint[i], true, touched)
	}
	for _, d := range devs {
		touched[d.ID] = true
	}
	s.publishDevices(touched)
}

// transitions are the alert transitions among saved records.
func transitions(recs []record) []alert.Transition {
	out := make([]alert.Transition, 0, len(recs))
	for i := range recs {
		if r := &recs[i]; r.Alert != nil {
			out = append(out, alert.Transition{Kind: alert.TransitionKind(r.Kind), At: r.At, Alert: *r.Alert, By: r.By, Note: r.Note})
		}
	}
	return out
}
