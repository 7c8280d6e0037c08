package ingestd_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// The fault suite (docs/FAULTS.md). Each test is bounded, loopback only,
// and ends with the count every fault test ends with: every acknowledged
// message in InfluxDB exactly once, by device and sequence number.
// IOC_FAULT_RUNS sets the SIGKILL runs (3 in the default suite;
// scripts/faults runs 20).

func faultRuns(t *testing.T, def int) int {
	if v, err := strconv.Atoi(os.Getenv("IOC_FAULT_RUNS")); err == nil && v > 0 {
		return v
	}
	return def
}

// influxProxy sits between ingest and influxd and misbehaves on cue.
type influxProxy struct {
	mode  atomic.Value // string: ok, 429, 500, 413 (bodies over 64 KiB), slow
	calls sync.Map     // mode → *atomic.Int64 of requests answered so
	srv   *httptest.Server
}

func newInfluxProxy(t *testing.T, target string) *influxProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &influxProxy{}
	p.mode.Store("ok")
	rp := httputil.NewSingleHostReverseProxy(u)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mode := p.mode.Load().(string)
		if r.URL.Path != "/api/v2/write" {
			rp.ServeHTTP(w, r)
			return
		}
		n, _ := p.calls.LoadOrStore(mode, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		switch mode {
		case "429":
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"code":"too many requests","message":"slow down"}`, http.StatusTooManyRequests)
			return
		case "500":
			http.Error(w, `{"code":"internal error","message":"engine: cache full"}`, http.StatusInternalServerError)
			return
		case "413":
			if r.ContentLength > 64<<10 || r.ContentLength < 0 {
				io.Copy(io.Discard, r.Body)
				http.Error(w, `{"code":"request too large","message":"body over 64 KiB"}`, http.StatusRequestEntityTooLarge)
				return
			}
		case "slow":
			time.Sleep(1500 * time.Millisecond)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *influxProxy) answered(mode string) int64 {
	n, ok := p.calls.Load(mode)
	if !ok {
		return 0
	}
	return n.(*atomic.Int64).Load()
}

// TestInfluxAnswers429And500And413AndSlow puts a scripted proxy in front of
// the real influxd while messages flow: rate limiting with Retry-After,
// server errors, bodies too large and slow answers, each for a few
// seconds. Ingest keeps acknowledging into its spool throughout, and
// every message ends up in InfluxDB once.
func TestInfluxAnswers429And500And413AndSlow(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test")
	}
	const n, devices = 30_000, 1_000
	in, mq, c := throughMosquitto(t, devices)
	px := newInfluxProxy(t, in.URL)
	c.Influx.URL = px.srv.URL
	c.Influx.Timeout = 5 * time.Second
	c.Pipeline.RetryMax = time.Second
	ing := startIngest(t, c, nil)
	pub := client(t, mq.URL, "proxy-pub")
	done := publishing(t, []paho.Client{pub}, n, devices, 2500, func(i int) bool { return i%5 == 0 })
	for _, mode := range []string{"ok", "429", "ok", "500", "413", "slow", "ok"} {
		px.mode.Store(mode)
		time.Sleep(2 * time.Second)
	}
	<-done
	waitExactly(t, in, n, 90*time.Second)
	for _, mode := range []string{"429", "500", "413", "slow"} {
		if px.answered(mode) == 0 {
			t.Errorf("no write met the %s fault: the script did not exercise it", mode)
		}
	}
	if s := statusJSON(t, ing.HTTP); s.Spool.Entries != 0 {
		t.Errorf("spool not drained: %+v", s.Spool)
	}
	t.Logf("writes answered per mode: 429 %d, 500 %d, 413 %d, slow %d", px.answered("429"), px.answered("500"), px.answered("413"), px.answered("slow"))
}

// TestSIGKILLRandomMoments kills the ingest process at random moments,
// several times per run, over several runs, with InfluxDB behind the spool
// and Mosquitto in front: after each run every message is there once.
func TestSIGKILLRandomMoments(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test")
	}
	runs := faultRuns(t, 3)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d runs", seed, runs)
	r := rand.New(rand.NewPCG(seed, 1))
	for run := range runs {
		t.Run(fmt.Sprint("run", run), func(t *testing.T) {
			const n, devices = 12_000, 500
			in := testenv.StartInflux(t)
			mq := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
			p := newProc(t, "IOC_MQTT_BROKER="+mq.URL, "IOC_INFLUX_URL="+in.URL, "IOC_INFLUX_DATABASE="+in.DB,
				"IOC_REGISTRY="+writeRegistry(t, devices), "IOC_MQTT_CLIENT_ID=ingest-random-kill")
			p.start()
			pub := client(t, mq.URL, "random-kill-pub")
			done := publishing(t, []paho.Client{pub}, n, devices, 4000, func(i int) bool { return i%3 == 0 })
			kills := 1 + r.IntN(3)
			var at []string
			for range kills {
				d := time.Duration(100+r.IntN(1200)) * time.Millisecond
				at = append(at, d.String())
				time.Sleep(d)
				p.kill()
				p.start()
			}
			<-done
			t.Logf("killed after %v", at)
			waitExactly(t, in, n, 90*time.Second)
		})
	}
}

// TestSpoolDiskFull puts the spool on a 5 MiB tmpfs and InfluxDB down:
// the disk fills, ingest stops acknowledging (the broker holds the rest)
// without dropping or corrupting anything, and when InfluxDB returns the
// spool drains and every message is stored once. Needs root (mount).
func TestSpoolDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test")
	}
	const n, devices = 60_000, 1_000
	in, mq, c := throughMosquitto(t, devices)
	spoolDir := filepath.Join(c.DataDir, "spool")
	if err := os.MkdirAll(spoolDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=5m", "tmpfs", spoolDir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs for the spool (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", spoolDir).Run() })
	c.Influx.Timeout = 2 * time.Second
	c.Pipeline.RetryMax = time.Second
	in.Stop()
	ing := startIngest(t, c, nil)
	pub := client(t, mq.URL, "disk-full-pub")
	done := publishing(t, []paho.Client{pub}, n, devices, 0, func(i int) bool { return i%5 == 0 })
	testenv.Eventually(t, 60*time.Second, func() error {
		if got := metric(t, ing.HTTP, "ioc_spool_append_errors_total"); got < 1 {
			return fmt.Errorf("no append has failed yet (spool %+v)", statusJSON(t, ing.HTTP).Spool)
		}
		return nil
	})
	acked := metric(t, ing.HTTP, "ioc_ingest_messages_acked_total")
	if acked >= n {
		t.Fatalf("all %d messages acknowledged on a full disk", n)
	}
	t.Logf("disk full after %v messages acknowledged", acked)
	in.Start()
	<-done
	waitExactly(t, in, n, 120*time.Second)
}

// TestClockJumps moves ingest's clock forward 90 minutes and then back 45
// while messages flow, a third of them without a timestamp of their own
// (stamped with ingest's clock): ingest keeps acknowledging, and every
// message is stored exactly once.
func TestClockJumps(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test")
	}
	const n, devices = 20_000, 1_000
	in, mq, c := throughMosquitto(t, devices)
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	ing := startIngest(t, c, now)
	pub := client(t, mq.URL, "clock-pub")
	done := publishing(t, []paho.Client{pub}, n, devices, 4000, func(i int) bool { return i%3 == 0 })
	for _, jump := range []time.Duration{90 * time.Minute, -45 * time.Minute, 0} {
		time.Sleep(1500 * time.Millisecond)
		offset.Store(int64(jump))
	}
	<-done
	waitExactly(t, in, n, 60*time.Second)
	if got := metric(t, ing.HTTP, "ioc_ingest_messages_acked_total"); got < n {
		t.Errorf("acknowledged %v of %d", got, n)
	}
}
