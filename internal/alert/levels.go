package alert

import "time"

// Level is a rule's alarm level on a reading, for charts: a threshold
// rule's raise (and clear) value, or a rise rule's delta over its window.
// Rules compared with a device's profile (profile.fps) or with a
// non-number have no level of their own and are left out.
type Level struct {
	Rule        string   `json:"rule"`
	Kind        Kind     `json:"kind"`
	Severity    Severity `json:"severity"`
	Measurement string   `json:"measurement"`
	Field       string   `json:"field"`
	Scope       Scope    `json:"scope"`
	// Threshold: Op and Value raise; Clear, if set, is the value the
	// reading must cross back for the alert to close.
	Op    string   `json:"op,omitempty"`
	Value *float64 `json:"value,omitempty"`
	Clear *float64 `json:"clear,omitempty"`
	// Rise: Delta within Window.
	Delta  float64       `json:"delta,omitempty"`
	Window time.Duration `json:"window_ns,omitempty"`
}

// Levels are the rules' alarm levels on numeric readings, in file order.
func (rs *Rules) Levels() []Level {
	out := []Level{}
	for _, r := range rs.List {
		l := Level{Rule: r.ID, Kind: r.Kind, Severity: r.Severity, Measurement: r.Measurement, Field: r.Field, Scope: r.Scope}
		if l.Measurement == "" {
			l.Measurement = "telemetry"
		}
		switch r.Kind {
		case Threshold:
			v, ok := levelValue(r.Raise.Value)
			if !ok || (r.Raise.Op != ">" && r.Raise.Op != ">=" && r.Raise.Op != "<" && r.Raise.Op != "<=") {
				continue
			}
			l.Op, l.Value = r.Raise.Op, &v
			if r.Clear != nil {
				if c, ok := levelValue(r.Clear.Value); ok {
					l.Clear = &c
				}
			}
		case Rise:
			l.Delta, l.Window = r.Delta, time.Duration(r.Window)
		default:
			continue
		}
		out = append(out, l)
	}
	return out
}

func levelValue(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}
