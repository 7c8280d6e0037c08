package alert

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ioc-vn/ioc/internal/registry"
)

// Maintenance is a window during which a device's or a district's alerts
// are suppressed: still raised and shown, marked as suppressed, never
// announced. When it ends, alerts still active are announced.
type Maintenance struct {
	// Target is "device:<id>" or "district:<id>".
	Target string    `json:"target" yaml:"target"`
	Since  time.Time `json:"since" yaml:"-"`
	// Until ends the window on its own; zero means until ended by hand.
	Until time.Time `json:"until,omitzero" yaml:"until"`
	By    string    `json:"by" yaml:"-"`
	Note  string    `json:"note,omitempty" yaml:"note"`
}

const devicePrefix = "device:"

// StartMaintenance opens (or replaces) a maintenance window.
func (e *Engine) StartMaintenance(m Maintenance, now time.Time) ([]Transition, error) {
	if err := e.validTarget(m.Target); err != nil {
		return nil, err
	}
	if m.By == "" {
		return nil, errors.New("maintenance needs who")
	}
	if !m.Until.IsZero() && !m.Until.After(now) {
		return nil, fmt.Errorf("maintenance until %s is already past", m.Until.Format(time.RFC3339))
	}
	m.Since = now
	e.maint[m.Target] = &m
	mc := m
	out := []Transition{{Kind: MaintenanceStarted, At: now, Maintenance: &mc, By: m.By, Note: m.Note}}
	for _, s := range e.sortedStates() {
		if s.active() && !s.alert.Suppressed && e.inMaintenance(s.dev, now) {
			s.alert.Suppressed = true
			s.alert.UpdatedAt = now
			e.stop(s, dueRenotify)
			out = append(out, Transition{Kind: Suppressed, At: now, Alert: *s.alert})
		}
	}
	return out, nil
}

// EndMaintenance closes a maintenance window by hand.
func (e *Engine) EndMaintenance(target, by string, now time.Time) ([]Transition, error) {
	m := e.maint[target]
	if m == nil {
		return nil, fmt.Errorf("%q is not in maintenance", target)
	}
	if by == "" {
		return nil, errors.New("ending maintenance needs who")
	}
	return e.endMaintenance(nil, m, by, now), nil
}

func (e *Engine) endMaintenance(out []Transition, m *Maintenance, by string, now time.Time) []Transition {
	delete(e.maint, m.Target)
	mc := *m
	out = append(out, Transition{Kind: MaintenanceEnded, At: now, Maintenance: &mc, By: by})
	for _, s := range e.sortedStates() {
		if s.active() && s.alert.Suppressed && !e.inMaintenance(s.dev, now) {
			s.alert.Suppressed = false
			s.alert.UpdatedAt = now
			s.alert.NotifiedAt = now // announced now that the window is over
			e.renotifyLater(s, now)
			e.armTarget(s, now)
			out = append(out, Transition{Kind: Unsuppressed, At: now, Alert: *s.alert})
		}
	}
	return out
}

// Maintenance returns the open maintenance windows by target.
func (e *Engine) Maintenance() []Maintenance {
	out := make([]Maintenance, 0, len(e.maint))
	for _, m := range e.maint {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Target < out[j].Target })
	return out
}

func (e *Engine) validTarget(t string) error {
	if id, ok := strings.CutPrefix(t, devicePrefix); ok {
		if e.devs[id] == nil {
			return fmt.Errorf("maintenance: device %q is not registered", id)
		}
		return nil
	}
	if id, ok := strings.CutPrefix(t, districtPrefix); ok {
		if _, ok := e.reg.District(id); !ok {
			return fmt.Errorf("maintenance: district %q is not in the registry", id)
		}
		return nil
	}
	return fmt.Errorf("maintenance target %q: use device:<id> or district:<id>", t)
}

// inMaintenance reports whether d (or its district) is in a maintenance
// window at now.
func (e *Engine) inMaintenance(d *registry.Device, now time.Time) bool {
	if len(e.maint) == 0 {
		return false
	}
	open := func(m *Maintenance) bool { return m != nil && (m.Until.IsZero() || now.Before(m.Until)) }
	if d.Kind != DistrictKind && open(e.maint[devicePrefix+d.ID]) {
		return true
	}
	return open(e.maint[districtPrefix+d.District])
}

// sortedStates returns every state in alert id order, so that transitions
// that touch many alerts come out in a stable order.
func (e *Engine) sortedStates() []*ruleState {
	out := make([]*ruleState, 0, len(e.byID))
	for _, s := range e.byID {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}
