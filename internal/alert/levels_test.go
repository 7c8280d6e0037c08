package alert

import (
	"testing"
	"time"
)

func TestLevels(t *testing.T) {
	rs, err := ParseRules([]byte(`rules:
  - {id: pm25-high, kind: threshold, severity: major, scope: {kinds: [sensor]}, field: pm25,
     raise: {op: ">", value: 150, for: 5m}, clear: {op: "<", value: 120.5}, message: {vi: a, en: b}}
  - {id: low-fps, kind: threshold, severity: minor, scope: {kinds: [camera]}, measurement: status, field: fps,
     raise: {op: "<", value: profile.fps, factor: 0.5}, message: {vi: a, en: b}}
  - {id: not-recording, kind: threshold, severity: major, measurement: status, field: recording,
     raise: {op: "==", value: false}, message: {vi: a, en: b}}
  - {id: water-rising, kind: rise, severity: critical, field: water_level_cm, delta: 20, window: 10m, message: {vi: a, en: b}}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := rs.Levels()
	if len(got) != 2 {
		t.Fatalf("levels %+v, want pm25-high and water-rising only", got)
	}
	tests := []struct {
		l                     Level
		rule, measurement, op string
		value, clear, delta   float64
		window                time.Duration
	}{
		{got[0], "pm25-high", "telemetry", ">", 150, 120.5, 0, 0},
		{got[1], "water-rising", "telemetry", "", 0, 0, 20, 10 * time.Minute},
	}
	for _, tc := range tests {
		l := tc.l
		if l.Rule != tc.rule || l.Measurement != tc.measurement || l.Op != tc.op || l.Delta != tc.delta || l.Window != tc.window {
			t.Errorf("%+v", l)
		}
		if (tc.value != 0) != (l.Value != nil) || (l.Value != nil && *l.Value != tc.value) {
			t.Errorf("%s: value %v, want %v", tc.rule, l.Value, tc.value)
		}
		if (tc.clear != 0) != (l.Clear != nil) || (l.Clear != nil && *l.Clear != tc.clear) {
			t.Errorf("%s: clear %v, want %v", tc.rule, l.Clear, tc.clear)
		}
	}
}
