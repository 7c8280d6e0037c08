package alertd

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/registry"
)

// deviceState is the loop's picture of one device.
type deviceState struct {
	seen   bool
	alerts map[string]alert.Alert // active, by id
	maint  map[string]bool        // open windows covering it, by target
	last   []byte                 // last published, without updated_at
}

func (s *Service) device(id string) *deviceState {
	d := s.devices[id]
	if d == nil {
		d = &deviceState{alerts: map[string]alert.Alert{}, maint: map[string]bool{}}
		s.devices[id] = d
	}
	return d
}

func (s *Service) alertChanged(a *alert.Alert) {
	d := s.device(a.Device)
	if a.State == alert.Active {
		d.alerts[a.ID] = *a
	} else {
		delete(d.alerts, a.ID)
	}
}

func (s *Service) maintenanceChanged(m *alert.Maintenance, open bool, touched map[string]bool) {
	var ids []string
	if id, ok := strings.CutPrefix(m.Target, "device:"); ok {
		ids = []string{id}
	} else if district, ok := strings.CutPrefix(m.Target, "district:"); ok {
		s.mu.Lock()
		for _, d := range s.reg.Devices() {
			if d.District == district {
				ids = append(ids, d.ID)
			}
		}
		s.mu.Unlock()
	}
	for _, id := range ids {
		d := s.device(id)
		if open {
			d.maint[m.Target] = true
		} else {
			delete(d.maint, m.Target)
		}
		touched[id] = true
	}
}

// refreshDevices marks every device known before or now for publishing;
// those no longer registered have their retained state cleared.
func (s *Service) refreshDevices(touched map[string]bool) {
	for id := range s.devices {
		touched[id] = true
	}
	s.mu.Lock()
	for _, d := range s.reg.Devices() {
		touched[d.ID] = true
	}
	s.mu.Unlock()
}

// publishDevices publishes the state of each touched device that changed.
func (s *Service) publishDevices(touched map[string]bool) {
	if len(touched) == 0 {
		return
	}
	s.mu.Lock()
	reg := s.reg
	s.mu.Unlock()
	ids := make([]string, 0, len(touched))
	for id := range touched {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	now := s.now()
	for _, id := range ids {
		dev, ok := reg.Device(id)
		if !ok {
			if d := s.devices[id]; d != nil && d.last != nil {
				s.clearRetained(contract.DeviceStateTopic(id))
			}
			delete(s.devices, id)
			continue
		}
		d := s.device(id)
		st := d.state(dev, dev.Commissioning && !s.live[id])
		key, _ := json.Marshal(st)
		if bytes.Equal(key, d.last) {
			continue
		}
		d.last = key
		st.UpdatedAt = now
		s.publish(contract.DeviceStateTopic(id), true, st)
	}
}

// state is what DeviceStateTopic says of dev; commissioning: it is
// registered as such and has not gone live.
func (d *deviceState) state(dev *registry.Device, commissioning bool) contract.DeviceState {
	st := contract.UnknownDevice(dev)
	st.Maintenance = len(d.maint) > 0
	switch {
	case d.seen:
		st.Status, st.Health = contract.StatusOnline, contract.HealthOK
	case commissioning:
		st.Status = contract.StatusCommissioning
	}
	for id, a := range d.alerts {
		st.Alerts = append(st.Alerts, id)
		if a.RuleKind == alert.Silence {
			st.Status, st.Health = contract.StatusOffline, contract.HealthDown
		} else if st.Health != contract.HealthDown {
			st.Health = contract.HealthDegraded
		}
		if !a.Suppressed && (st.Severity == "" || a.Severity.Rank() < alert.Severity(st.Severity).Rank()) {
			st.Severity = string(a.Severity)
		}
	}
	sort.Strings(st.Alerts)
	return st
}

// liveRecord is a commissioning device gone live, as alerts.db keeps it.
type liveRecord struct {
	Device string
	At     time.Time
	By     string // "data" for its first accepted message, else the operator
}

// tookLive queues the devices the engine saw go live, for the loop to
// save and publish. Called with mu held.
func (s *Service) tookLive(by string, now time.Time) {
	for _, id := range s.eng.TakeCommissioned() {
		s.pending = append(s.pending, item{live: &liveRecord{Device: id, At: now, By: by}})
	}
}
