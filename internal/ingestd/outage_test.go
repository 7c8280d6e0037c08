package ingestd_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// TestMassOutage10k: 10,000 cameras in 10 districts report once and fall
// silent together while 100 other devices keep publishing. Each district
// gets one outage alert with its cameras' alerts folded under it. It logs
// how long after each district crossed half offline its alert reached an
// IOC server subscriber, and the survivors' publish latency before and
// during the outage (docs/BENCHMARKS.md).
func TestMassOutage10k(t *testing.T) {
	if testing.Short() {
		t.Skip("mass outage: run without -short")
	}
	const cams, districts, timeout = 10000, 10, 3 * time.Second
	var reg strings.Builder
	reg.WriteString("province: Test\nintegrators: [{id: acme, name: Acme}]\ndistricts:\n")
	for d := range districts {
		fmt.Fprintf(&reg, "  - {id: d%d, name: \"Huyện %d\"}\n", d, d)
	}
	reg.WriteString("devices:\n")
	for i := range cams {
		fmt.Fprintf(&reg, "  - {id: cam-%05d, kind: camera, name: \"Camera %d\", district: d%d, integrator: acme}\n", i, i, i%districts)
	}
	for i := range 100 {
		fmt.Fprintf(&reg, "  - {id: sv-%03d, kind: sensor, name: \"Trạm %d\", district: d%d, integrator: acme, timeout: 1h}\n", i, i, i%districts)
	}
	dir := t.TempDir()
	c := testConfig(t)
	c.Registry = filepath.Join(dir, "devices.yaml")
	c.Alerts.Rules = filepath.Join(dir, "rules.yaml")
	rules := fmt.Sprintf("rules:\n  - {id: device-offline, kind: silence, severity: critical, measurement: any, timeouts: {camera: %s, sensor: 1h}, message: {vi: a, en: b}}\n", timeout)
	for p, body := range map[string]string{c.Registry: reg.String(), c.Alerts.Rules: rules} {
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ing := startIngest(t, c, nil)

	type got struct {
		at     time.Time
		parent string
	}
	var (
		mu        sync.Mutex
		districtA = map[string]time.Time{}
		devA      = map[string]got{}
	)
	sub := client(t, ing.BrokerURL, "wall")
	sub.Subscribe(contract.EventsTopic, 1, func(_ paho.Client, m paho.Message) {
		var e struct {
			Kind  string `json:"kind"`
			Alert struct {
				Device, District, Parent string
			} `json:"alert"`
		}
		json.Unmarshal(m.Payload(), &e)
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		switch {
		case e.Kind == "raised" && strings.HasPrefix(e.Alert.Device, "district:"):
			districtA[e.Alert.District] = now
		case e.Kind == "raised" || e.Kind == "folded":
			devA[e.Alert.Device] = got{now, e.Alert.Parent}
		}
	}).WaitTimeout(5 * time.Second)

	// Every camera reports once; ack times give each one's deadline.
	pub := client(t, ing.BrokerURL, "gateway")
	acked := make([]time.Time, cams)
	toks := make([]paho.Token, cams)
	for i := range cams {
		toks[i] = pub.Publish(fmt.Sprintf("ioc/v1/acme/cam-%05d/status", i), 1, false, []byte(`{"state":"online"}`))
	}
	for i, tok := range toks {
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %d: %v", i, tok.Error())
		}
		acked[i] = time.Now()
	}
	// The survivors keep publishing through the outage.
	var before, during []time.Duration
	survivor := client(t, ing.BrokerURL, "survivors")
	firstDue := acked[0].Add(timeout)
	end := acked[cams-1].Add(timeout + 3*time.Second)
	for n := 0; time.Now().Before(end); n++ {
		start := time.Now()
		tok := survivor.Publish(fmt.Sprintf("ioc/v1/acme/sv-%03d/telemetry", n%100), 1, false, []byte(`{"pm25":12}`))
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("survivor publish: %v", tok.Error())
		}
		if lat := time.Since(start); start.Before(firstDue) {
			before = append(before, lat)
		} else {
			during = append(during, lat)
		}
		time.Sleep(time.Millisecond)
	}

	// Wait for the events, not for a time: on a busy machine the engine
	// may still be publishing the outage when the survivors stop.
	foldedCount := func() int {
		n := 0
		for i := range cams {
			if g := devA[fmt.Sprintf("cam-%05d", i)]; strings.HasPrefix(g.parent, "device-offline/district:") {
				n++
			}
		}
		return n
	}
	testenv.Eventually(t, 60*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(districtA) != districts {
			return fmt.Errorf("%d district alerts, want %d", len(districtA), districts)
		}
		if n := foldedCount(); n != cams {
			return fmt.Errorf("%d of %d camera alerts folded under their district", n, cams)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	var worst time.Duration
	for d := range districts {
		var due []time.Time
		for i := d; i < cams; i += districts {
			due = append(due, acked[i].Add(timeout))
		}
		slices.SortFunc(due, func(a, b time.Time) int { return a.Compare(b) })
		crossed := due[len(due)/2-1] // half the district offline
		lag := districtA[fmt.Sprintf("d%d", d)].Sub(crossed)
		worst = max(worst, lag)
	}
	pct := func(xs []time.Duration, p float64) time.Duration {
		if len(xs) == 0 {
			return 0
		}
		slices.Sort(xs)
		return xs[int(float64(len(xs)-1)*p)]
	}
	t.Logf("10,000-camera outage: every district alert at most %s after its district crossed half offline; publishing took %s",
		worst.Round(time.Millisecond), acked[cams-1].Sub(acked[0]).Round(time.Millisecond))
	t.Logf("survivors' publish-to-PUBACK: before p50 %s p99 %s (%d msgs); during p50 %s p99 %s max %s (%d msgs)",
		pct(before, .5), pct(before, .99), len(before), pct(during, .5), pct(during, .99), pct(during, 1), len(during))
}
