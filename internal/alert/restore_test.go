package alert

import (
	"slices"
	"testing"
	"time"
)

// TestRuleThatChangedKindIsNotCarriedOver: pm25-high is a threshold rule
// with an active alert; the new rules file makes pm25-high a rise rule. A
// reload resolves the alert by "config", and a restart does not bring it
// back as the rise rule's alert: Restore and Reconfigure decide alike
// (one resolve helper).
func TestRuleThatChangedKindIsNotCarriedOver(t *testing.T) {
	const id = "pm25-high/aq-1"
	asRise, err := ParseRules([]byte(`
rules:
  - {id: pm25-high, kind: rise, severity: major, scope: {kinds: [sensor]}, field: pm25, delta: 50, window: 10m, message: {vi: a, en: b}}
`))
	if err != nil {
		t.Fatal(err)
	}
	raised := func(t *testing.T) *rig {
		r := newRig(t, "pm25-high")
		r.minutes(0, 5, "aq-1", f("pm25", 200))
		r.expect("raised " + id)
		return r
	}

	t.Run("reload", func(t *testing.T) {
		r := raised(t)
		r.at(6 * time.Minute)
		r.log = append(r.log, r.e.Reconfigure(asRise, nil, r.now)...)
		if tr := r.expect("resolved " + id); tr[0].Alert.ResolvedBy != "config" {
			t.Fatalf("resolved by %q, want config", tr[0].Alert.ResolvedBy)
		}
		if a, ok := r.e.Alert(id); ok {
			t.Fatalf("the rise rule holds the threshold rule's alert: %+v", a)
		}
	})
	t.Run("restart", func(t *testing.T) {
		r := raised(t)
		e2 := NewEngine(asRise, r.reg, Options{})
		skipped := e2.Restore(r.e.Alerts(), nil, r.now.Add(time.Minute))
		if !slices.Equal(skipped, []string{id}) {
			t.Fatalf("skipped %v, want [%s]", skipped, id)
		}
		if a, ok := e2.Alert(id); ok {
			t.Fatalf("the rise rule holds the threshold rule's alert: %+v", a)
		}
	})
}
