package ingestd_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/loadgen"
	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/quota"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// TestQuotaSlowsBacklogNothingLost: a device flushing 600 queued readings
// faster than its quota (200/s after a burst of 50) is slowed, told why on
// its errors topic, and every reading is stored.
func TestQuotaSlowsBacklogNothingLost(t *testing.T) {
	if testing.Short() {
		t.Skip("quota test")
	}
	const n = 600
	in := testenv.StartInflux(t)
	c := testConfig(t)
	c.Registry = writeRegistry(t, 10)
	c.Influx.URL, c.Influx.Database = in.URL, in.DB
	c.Quotas = quota.Config{Device: quota.Limit{Rate: 200, Burst: 50}}
	ing := startIngest(t, c, nil)
	errs := reports(t, ing.BrokerURL)
	pub := client(t, ing.BrokerURL, "backlog-device")
	start := time.Now()
	// Every message from device 1: devices=1 maps message i to dev-00000.
	publishAll(t, []paho.Client{pub}, 0, n, 1, time.Now().Add(-time.Hour), 0, nil)
	elapsed := time.Since(start)
	if min := time.Duration(float64(n-50)/200*0.8*float64(time.Second)) - 0; elapsed < min {
		t.Errorf("600 messages acknowledged in %s; a 200/s quota should take at least %s", elapsed, min)
	}
	waitCount(t, in, n, 30*time.Second)
	select {
	case r := <-errs:
		if r.Reason != payload.ReasonQuota || !strings.Contains(r.Error, "device dev-00000 is over its quota of 200 messages/s (burst 50)") || !strings.Contains(r.Error, "nothing is dropped") {
			t.Errorf("notice %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Error("no quota_exceeded notice on the errors topic")
	}
}

// TestNoisyIntegratorDoesNotStarveOthers: one integrator publishes flat out
// from four connections while another sends a reading every 50 ms. With
// integrator quotas the quiet one's readings are acknowledged promptly and
// the noisy one is held to its quota, losing nothing.
func TestNoisyIntegratorDoesNotStarveOthers(t *testing.T) {
	if testing.Short() {
		t.Skip("quota test")
	}
	const n, rate = 6000, 1500
	in := testenv.StartInflux(t)
	c := testConfig(t)
	c.Registry = writeRegistry(t, 1000)
	c.Influx.URL, c.Influx.Database = in.URL, in.DB
	c.Quotas = quota.Config{Integrator: quota.Limit{Rate: rate, Burst: rate}}
	ing := startIngest(t, c, nil)

	var noisy []paho.Client
	for i := range 4 {
		noisy = append(noisy, client(t, ing.BrokerURL, fmt.Sprintf("noisy-%d", i)))
	}
	quiet := client(t, ing.BrokerURL, "quiet")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var lat []time.Duration
	quietDone := make(chan struct{})
	go func() {
		defer close(quietDone)
		for i := 0; ctx.Err() == nil; i++ {
			start := time.Now()
			tok := quiet.Publish("ioc/v1/other/other-01/telemetry", 1, false, fmt.Sprintf(`{"ts": %d, "seq": %d}`, time.Now().UnixMilli(), 1_000_000+i))
			tok.WaitTimeout(30 * time.Second)
			lat = append(lat, time.Since(start))
			time.Sleep(50 * time.Millisecond)
		}
	}()
	start := time.Now()
	if err := loadgen.Publish(ctx, noisy, loadgen.Plan{From: 0, To: n, Devices: 1000, Base: time.Now().Add(-time.Hour), Window: 1000}); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	cancel()
	<-quietDone
	if got := float64(n) / elapsed.Seconds(); got > rate*1.3+float64(rate)/elapsed.Seconds() {
		t.Errorf("noisy integrator got %.0f msgs/s through a %d/s quota", got, rate)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) < 20 {
		t.Fatalf("only %d quiet readings", len(lat))
	}
	if worst := lat[len(lat)-1]; worst > time.Second {
		t.Errorf("quiet integrator waited up to %s for an acknowledgement (median %s)", worst, lat[len(lat)/2])
	}
	waitCount(t, in, n+len(lat), 30*time.Second)
	t.Logf("noisy: %d msgs in %s (quota %d/s); quiet: %d readings, median ack %s, worst %s", n, elapsed.Round(time.Millisecond), rate, len(lat), lat[len(lat)/2], lat[len(lat)-1])
}
