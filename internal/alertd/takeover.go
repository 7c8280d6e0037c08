package alertd

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/contract"
)

// Several ingest processes can each own alerting, one at a time (a lease on
// the broker decides, internal/lease). A standby's service evaluates and
// publishes nothing; when it takes over, the broker's retained topics are
// the shared truth: its alerts.db is its own and may be old, while the
// retained alerts, maintenance windows and device states are what the
// previous owner last published. TakeOver restores the engine from them
// (acknowledgements, dispatch steps, timers from the alerts' own times) and
// saves them as its own state.

// Retained is the alert state the broker retains: what a new owner starts
// from.
type Retained struct {
	Alerts      []alert.Alert
	Maintenance []alert.Maintenance
	// Seen are the devices the retained states show heard from (online or
	// offline, not unknown or commissioning).
	Seen []string
	// Live are the devices whose retained state is not commissioning.
	Live []string
}

// ParseRetained reads the retained messages under contract.RetainedFilters
// and contract.DevicesPrefix (topic → payload); empty payloads are skipped
// and undecodable ones reported in bad.
func ParseRetained(msgs map[string][]byte) (r Retained, bad []string) {
	for topic, b := range msgs {
		if len(b) == 0 {
			continue
		}
		var err error
		switch {
		case strings.HasPrefix(topic, contract.AlertsPrefix):
			var a alert.Alert
			if err = json.Unmarshal(b, &a); err == nil && a.State == alert.Active && contract.AlertTopic(a.ID) == topic {
				r.Alerts = append(r.Alerts, a)
			}
		case strings.HasPrefix(topic, contract.MaintenancePrefix):
			var m alert.Maintenance
			if err = json.Unmarshal(b, &m); err == nil && contract.MaintenanceTopic(m.Target) == topic {
				r.Maintenance = append(r.Maintenance, m)
			}
		case strings.HasPrefix(topic, contract.DevicesPrefix):
			var st contract.DeviceState
			if err = json.Unmarshal(b, &st); err == nil && contract.DeviceStateTopic(st.ID) == topic {
				if st.Status == contract.StatusOnline || st.Status == contract.StatusOffline {
					r.Seen = append(r.Seen, st.ID)
				}
				if st.Status != contract.StatusCommissioning {
					r.Live = append(r.Live, st.ID)
				}
			}
		}
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", topic, err))
		}
	}
	return r, bad
}

// Owning reports whether the service evaluates and publishes.
func (s *Service) Owning() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owning
}

// TakeOver makes the service the owner, from r: a new engine restored from
// the retained alerts and windows replaces whatever this process held.
// Timers run from the alerts' own times; every device gets a full silence
// timeout from now (what it sent while no one owned was not evaluated here).
func (s *Service) TakeOver(r Retained) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	eng := alert.NewEngine(s.rules, s.reg, s.opts)
	if skipped := eng.Restore(r.Alerts, r.Maintenance, now); len(skipped) > 0 {
		s.log.Info("alerts: retained alerts whose rule or device is not configured here were not taken over", "alerts", skipped)
	}
	eng.RestoreLive(s.liveIDs)
	eng.RestoreLive(r.Live)
	eng.Start(now)
	s.eng = eng
	s.eng.WindowChanges()
	s.windows = nil
	s.seen = map[string]bool{}
	for _, id := range r.Seen {
		s.seen[id] = true
	}
	s.pending = append(s.pending[:0], item{takeover: &r})
	s.owning = true
	s.applyConfigMaintenance(nil, now)
	s.log.Info("alerts: took over alerting from the retained state", "active", len(r.Alerts), "maintenance", len(r.Maintenance), "devices_seen", len(r.Seen))
	s.poke()
}

// StandBy stops evaluating and publishing: another process owns alerting
// (or this one can no longer prove it does). What is pending is dropped;
// the owner's retained state is the truth from now.
func (s *Service) StandBy() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.owning {
		return
	}
	s.owning = false
	s.pending = nil
	s.windows = nil
	s.log.Info("alerts: standing by; another ingest owns alerting")
}

// tookOver is the loop's part of a takeover: its device picture from the
// retained state, alerts.db replaced by it, everything published again.
func (s *Service) tookOver(ctx context.Context, r *Retained) {
	s.devices = map[string]*deviceState{}
	for _, id := range r.Seen {
		s.device(id).seen = true
	}
	for _, id := range r.Live {
		s.live[id] = true
	}
	s.mu.Lock()
	active := s.eng.Alerts()
	maint := s.eng.Maintenance()
	s.mu.Unlock()
	if err := s.db.replaceState(ctx, active, maint); err != nil {
		s.m.saveErrors.Inc()
		s.log.Error("alerts: saving the state taken over failed", "err", err)
	}
	s.publishSnapshot()
}

// recentCommands bounds how many command ids are remembered to answer each
// command once (a command can reach the owner twice when a standby hands
// on what its old session still held).
const recentCommands = 4096

// firstTime reports whether the command id is new, and remembers it.
// Called with mu held.
func (s *Service) firstTime(id string) bool {
	if id == "" {
		return true
	}
	if s.answered[id] {
		return false
	}
	if len(s.answeredOrder) >= recentCommands {
		delete(s.answered, s.answeredOrder[0])
		s.answeredOrder = s.answeredOrder[1:]
	}
	s.answered[id] = true
	s.answeredOrder = append(s.answeredOrder, id)
	return true
}
