package live

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/registry"
)

// Filter selects what a client sees. An empty list matches everything.
// Districts and kinds apply to alerts and devices; severities to alerts.
// Counts and maintenance windows are always sent: the summary is the
// province's.
type Filter struct {
	Districts  []string         `json:"districts,omitempty"`
	Severities []alert.Severity `json:"severities,omitempty"`
	Kinds      []registry.Kind  `json:"kinds,omitempty"`
}

// Bounds on a filter.
const (
	maxFilterItems = 64
	maxFilterValue = 64
)

// ParseFilter builds a filter from comma-separated lists and checks it.
func ParseFilter(districts, severities, kinds string) (Filter, error) {
	var f Filter
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	f.Districts = split(districts)
	for _, s := range split(severities) {
		f.Severities = append(f.Severities, alert.Severity(s))
	}
	for _, k := range split(kinds) {
		f.Kinds = append(f.Kinds, registry.Kind(k))
	}
	return f, f.Validate()
}

// Validate reports a filter that names unknown severities or kinds, or is
// too large.
func (f Filter) Validate() error {
	if len(f.Districts) > maxFilterItems || len(f.Severities) > 4 || len(f.Kinds) > 8 {
		return fmt.Errorf("filter: too many values")
	}
	for _, d := range f.Districts {
		if d == "" || len(d) > maxFilterValue {
			return fmt.Errorf("filter: bad district %q", d)
		}
	}
	for _, s := range f.Severities {
		switch s {
		case alert.Critical, alert.Major, alert.Minor, alert.Info:
		default:
			return fmt.Errorf("filter: unknown severity %q (critical, major, minor, info)", s)
		}
	}
	for _, k := range f.Kinds {
		switch k {
		case registry.Camera, registry.NVR, registry.Sensor, registry.Gateway, alert.DistrictKind:
		default:
			return fmt.Errorf("filter: unknown device kind %q (camera, nvr, sensor, gateway, district)", k)
		}
	}
	return nil
}

func (f Filter) matchAlert(a *alert.Alert) bool {
	return (len(f.Districts) == 0 || slices.Contains(f.Districts, a.District)) &&
		(len(f.Severities) == 0 || slices.Contains(f.Severities, a.Severity)) &&
		(len(f.Kinds) == 0 || slices.Contains(f.Kinds, a.DeviceKind))
}

func (f Filter) matchDevice(d *contract.DeviceState) bool {
	return (len(f.Districts) == 0 || slices.Contains(f.Districts, d.District)) &&
		(len(f.Kinds) == 0 || slices.Contains(f.Kinds, d.Kind))
}

// Match reports whether a client with this filter is sent d.
func (f Filter) Match(d *Delta) bool {
	switch {
	case d.Alert != nil:
		return f.matchAlert(d.Alert)
	case d.Device != nil:
		return f.matchDevice(d.Device)
	case d.Resolved != nil:
		return f.matchAlert(&d.Resolved.Alert)
	}
	return true
}
