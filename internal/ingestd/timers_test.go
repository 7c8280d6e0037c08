package ingestd_test

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// A clear window of 10 minutes, as the shipped pm25-out-of-range.
const timerRules = `
rules:
  - id: pm25-out-of-range
    kind: threshold
    severity: minor
    scope: {kinds: [sensor]}
    field: pm25
    raise: {op: ">", value: 1000}
    clear: {op: "<=", value: 1000, for: 10m}
    message: {vi: "Ngoài thang đo {{.Value}}", en: "Out of range {{.Value}}"}
`

// testClock is a clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// TestAlertTimersSurviveRestart: the readings of aq-1 fall under the line
// at minute 1 and ingest restarts (same data directory) at minute 6: the
// alert clears at minute 11, 10 minutes after they fell, not 10 minutes
// after the first reading after the restart.
func TestAlertTimersSurviveRestart(t *testing.T) {
	c := alertConfig(t)
	if err := os.WriteFile(c.Alerts.Rules, []byte(timerRules), 0o644); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Truncate(time.Second)
	clock := &testClock{now: t0}
	const id = "pm25-out-of-range/aq-1"

	// run starts ingest and sends aq-1's readings, one a minute from its
	// first minute; each is seen by the alert engine before the clock moves.
	run := func(readings map[int]int, first, last int) (*running, *wall) {
		t.Helper()
		ing := startIngest(t, c, clock.Now)
		w := watchWall(t, ing.BrokerURL)
		cl, err := dial(ing.BrokerURL, "gw-envsense", "envsense", "demo-envsense")
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Disconnect(100)
		for m, n := first, 1; m <= last; m, n = m+1, n+1 {
			clock.set(t0.Add(time.Duration(m) * time.Minute))
			publish(t, cl, "ioc/v1/envsense/aq-1/telemetry", fmt.Appendf(nil, `{"pm25":%d}`, readings[m]))
			testenv.Eventually(t, 10*time.Second, func() error {
				if got := metric(t, ing.HTTP, "ioc_alert_messages_observed_total"); got < float64(n) {
					return fmt.Errorf("alert engine saw %v of %d readings", got, n)
				}
				return nil
			})
		}
		return ing, w
	}
	readings := map[int]int{0: 1500}
	for m := 1; m <= 12; m++ {
		readings[m] = 40
	}

	ing, w := run(readings, 0, 6)
	if e := w.event(alert.Raised, id, 15*time.Second); !e.At.Equal(t0) {
		t.Fatalf("raised at %s, want %s", e.At, t0)
	}
	clock.set(t0.Add(6*time.Minute + 30*time.Second))
	ing.stop()

	_, w = run(readings, 8, 12)
	e := w.event(alert.Cleared, id, 15*time.Second)
	if want := t0.Add(11 * time.Minute); !e.At.Equal(want) {
		t.Errorf("cleared at +%s, want +%s (10 minutes after the readings fell at +1m)", e.At.Sub(t0), want.Sub(t0))
	}
}
