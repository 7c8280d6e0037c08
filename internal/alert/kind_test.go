package alert

import (
	"strings"
	"testing"
	"time"
)

// TestEachKindReadsItsOwnKeys: every kind's keys, written flat in the
// rule as in configs/rules.yaml, land in its own parameter struct with
// its defaults, and the rule evaluates with that kind's evaluator.
func TestEachKindReadsItsOwnKeys(t *testing.T) {
	const msg = ", message: {vi: a, en: b}}\n"
	f := func(rule string, want evaluator, check func(r *Rule) string) {
		t.Helper()
		rs, err := ParseRules([]byte("rules:\n  - {id: r, severity: major, " + rule + msg))
		if err != nil {
			t.Fatalf("%s: %v", rule, err)
		}
		r := rs.List[0]
		if r.eval != want {
			t.Fatalf("%s: evaluator %T, want %T", rule, r.eval, want)
		}
		if bad := check(r); bad != "" {
			t.Fatalf("%s: %s", rule, bad)
		}
	}
	f("kind: threshold, field: pm25, raise: {op: '>', value: 150, for: 5m}", threshold{}, func(r *Rule) string {
		if r.Measurement != "telemetry" || r.Raise.For != Dur(5*time.Minute) || r.Raise.Factor != 1 {
			return "raise or its defaults not read"
		}
		if c := r.Clear; c == nil || c.Op != "<=" || c.Value != 150 || c.For != 0 {
			return "clear is not the raise condition negated"
		}
		return ""
	})
	f("kind: rise, field: level, delta: 20, window: 10m", rise{}, func(r *Rule) string {
		if r.Delta != 20 || r.Window != Dur(10*time.Minute) || r.Measurement != "telemetry" {
			return "delta or window not read"
		}
		return ""
	})
	f("kind: stuck, field: pm25, for: 2h", stuck{}, func(r *Rule) string {
		if r.For != Dur(2*time.Hour) {
			return "for not read"
		}
		return ""
	})
	f("kind: event, types: [tamper]", event{}, func(r *Rule) string {
		if r.ClearAfter != Dur(15*time.Minute) || r.Measurement != "event" || len(r.Types) != 1 {
			return "types or the defaults (clear_after 15m, measurement event) not read"
		}
		return ""
	})
	f("kind: silence, measurement: any, timeouts: {camera: 2m}", silence{}, func(r *Rule) string {
		if r.Timeouts["camera"] != Dur(2*time.Minute) || r.Mass.Fraction != 0.5 || r.Mass.MinDevices != 5 || r.Mass.Off {
			return "timeouts or the mass defaults (0.5, 5) not read"
		}
		return ""
	})
	f("kind: silence, timeouts: {nvr: 5m}, mass: {fraction: 0.3, min_devices: 2}", silence{}, func(r *Rule) string {
		if r.Mass.Fraction != 0.3 || r.Mass.MinDevices != 2 || r.Measurement != "telemetry" {
			return "mass not read"
		}
		return ""
	})
}

// TestEachKindRefusesWhatItNeeds: a rule missing its kind's keys is
// refused with what it needs; an unknown kind names every known one.
func TestEachKindRefusesWhatItNeeds(t *testing.T) {
	const msg = ", message: {vi: a, en: b}}\n"
	for _, c := range []struct{ rule, want string }{
		{"kind: threshold, raise: {op: '>', value: 1}", "a threshold rule needs field and raise"},
		{"kind: rise, field: x, delta: 1", "a rise rule needs field, delta > 0 and window"},
		{"kind: stuck, field: x", "a stuck rule needs field and for"},
		{"kind: event", "an event rule needs types"},
		{"kind: event, types: [sneeze]", `event type "sneeze" has no vi name`},
		{"kind: silence", "a silence rule needs timeouts per device kind"},
		{"kind: silence, timeouts: {camera: 1m}, mass: {fraction: 2}", "mass: fraction between 0 and 1"},
		{"kind: sulk", `kind "sulk": use threshold, rise, stuck, event or silence`},
	} {
		_, err := ParseRules([]byte("rules:\n  - {id: r, severity: major, " + c.rule + msg))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.rule, err, c.want)
		}
	}
	for k := range evaluators {
		if !strings.Contains("threshold, rise, stuck, event or silence", string(k)) {
			t.Errorf("kind %q is not named in the unknown-kind error", k)
		}
	}
}
