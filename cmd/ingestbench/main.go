// Command ingestbench measures ingest end to end on this machine: it starts
// Mosquitto and InfluxDB 1.8 on loopback in a temporary directory, starts the
// ingest binary against them, publishes N QoS 1 messages from many devices as
// fast as the broker acknowledges them, and reports messages per second from
// the first publish until ingest has stored and acknowledged the last one. It
// then counts the points in InfluxDB and fails unless every message is there
// exactly once.
//
//	go run ./cmd/ingestbench -n 300000
//	go run ./cmd/ingestbench -n 300000 -baseline      # a paho subscriber that only counts
//	go run ./cmd/ingestbench -n 300000 -profile cpu.pprof
//	go run ./cmd/ingestbench -latency -n 200 -load 5000   # device event → operator's websocket
//
// Everything runs on 127.0.0.1 and stops by itself. Needs mosquitto and
// influxd (scripts/test installs both).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/loadgen"
	"github.com/ioc-vn/ioc/internal/testenv"
)

func main() {
	var (
		n          = flag.Int("n", 300_000, "messages to publish")
		devices    = flag.Int("devices", 10_000, "devices the messages come from")
		publishers = flag.Int("publishers", 4, "publishing MQTT connections")
		window     = flag.Int("window", 1000, "unacknowledged publishes per connection")
		baseline   = flag.Bool("baseline", false, "measure a paho subscriber that only counts and auto-acknowledges, instead of ingest")
		embeddedB  = flag.Bool("embedded", false, "publish to ingest's embedded broker instead of Mosquitto")
		profile    = flag.String("profile", "", "write a CPU profile of ingest taken during the run to this file")
		timeout    = flag.Duration("timeout", 10*time.Minute, "give up after this long")
		latency    = flag.Bool("latency", false, "time a device's tamper event to the alert frame on an operator's websocket, in an all-in-one IOC on its defaults; -n events per phase")
		rate       = flag.Int("rate", 20, "latency: events per second")
		load       = flag.Int("load", 5000, "latency: msgs/s of `simulate load` beside the second phase (0: idle only)")
	)
	flag.Parse()
	b := &bench{}
	defer b.cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if *latency {
		if err := b.latency(ctx, latencyOptions{events: *n, rate: *rate, loadRate: *load, warmup: 5 * time.Second}); err != nil {
			b.cleanup()
			fmt.Fprintln(os.Stderr, "ingestbench:", err)
			os.Exit(1)
		}
		return
	}
	if err := b.run(ctx, *n, *devices, *publishers, *window, *baseline, *embeddedB, *profile); err != nil {
		b.cleanup()
		fmt.Fprintln(os.Stderr, "ingestbench:", err)
		os.Exit(1)
	}
}

// bench implements testenv.TB outside go test.
type bench struct {
	dirs     []string
	cleanups []func()
}

func (b *bench) Helper() {}
func (b *bench) Fatalf(format string, args ...any) {
	b.cleanup()
	fmt.Fprintf(os.Stderr, "ingestbench: "+format+"\n", args...)
	os.Exit(1)
}
func (b *bench) Fatal(args ...any) { b.Fatalf("%s", fmt.Sprint(args...)) }
func (b *bench) TempDir() string {
	d, err := os.MkdirTemp("", "ingestbench")
	if err != nil {
		b.Fatal(err)
	}
	b.dirs = append(b.dirs, d)
	return d
}
func (b *bench) Cleanup(f func()) { b.cleanups = append(b.cleanups, f) }
func (b *bench) cleanup() {
	for i := len(b.cleanups) - 1; i >= 0; i-- {
		b.cleanups[i]()
	}
	b.cleanups = nil
	for _, d := range b.dirs {
		os.RemoveAll(d)
	}
	b.dirs = nil
}

var _ testenv.TB = (*bench)(nil)

func (b *bench) run(ctx context.Context, n, devices, publishers, window int, baseline, embedded bool, profile string) error {
	if baseline && embedded {
		return fmt.Errorf("-baseline measures a subscriber of Mosquitto; it does not go with -embedded")
	}
	brokerURL, brokerName := "", "ingest's embedded broker"
	if !embedded {
		brokerURL, brokerName = testenv.StartMosquitto(b, testenv.MosquittoOptions{}).URL, "Mosquitto"
	}
	var (
		in      *testenv.Influx
		done    func() int
		metrics string
	)
	if baseline {
		var got atomic.Int64
		o := paho.NewClientOptions().AddBroker(brokerURL).SetClientID("baseline").SetCleanSession(false).
			SetOrderMatters(true)
		sub := paho.NewClient(o)
		if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			return fmt.Errorf("baseline connect: %v", tok.Error())
		}
		defer sub.Disconnect(100)
		if tok := sub.Subscribe(contract.DeviceFilter, 1, func(paho.Client, paho.Message) { got.Add(1) }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			return fmt.Errorf("baseline subscribe: %v", tok.Error())
		}
		done = func() int { return int(got.Load()) }
	} else {
		in = testenv.StartInflux(b)
		dir := b.TempDir()
		reg := filepath.Join(dir, "devices.yaml")
		if err := os.WriteFile(reg, []byte(loadgen.RegistryYAML(devices)), 0o644); err != nil {
			return err
		}
		bin := filepath.Join(dir, "ingest")
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/ingest").CombinedOutput(); err != nil {
			return fmt.Errorf("build ingest (run from the repository root): %v\n%s", err, out)
		}
		httpAddr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(b))
		metrics = "http://" + httpAddr + "/metrics"
		cmd := exec.Command(bin)
		brokerEnv := []string{"IOC_MQTT_BROKER=" + brokerURL}
		if embedded {
			// The bench measures throughput; access control is tested elsewhere.
			listen := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(b))
			brokerURL, brokerEnv = "tcp://"+listen, []string{"IOC_BROKER_LISTEN=" + listen, "IOC_BROKER_ALLOW_ANONYMOUS=true"}
		}
		cmd.Env = append(append(os.Environ(), brokerEnv...), "IOC_INFLUX_URL="+in.URL, "IOC_INFLUX_DATABASE="+in.DB,
			"IOC_DATA_DIR="+filepath.Join(dir, "data"), "IOC_HTTP_LISTEN="+httpAddr, "IOC_REGISTRY="+reg,
			"IOC_MQTT_CLIENT_ID=ingest-bench", "IOC_DEMO=true", "IOC_HTTP_PPROF=true", "IOC_QUOTAS=off", "IOC_LOG_LEVEL=warn")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return err
		}
		b.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
		if err := waitReady(ctx, "http://"+httpAddr+"/readyz"); err != nil {
			return err
		}
		done = func() int { return int(scrape(metrics, "ioc_ingest_messages_acked_total")) }
	}

	var clients []paho.Client
	for i := range publishers {
		c, err := loadgen.Connect(ctx, brokerURL, fmt.Sprintf("bench-pub-%d", i))
		if err != nil {
			return err
		}
		defer c.Disconnect(100)
		clients = append(clients, c)
	}
	fmt.Printf("publishing %d QoS 1 messages from %d devices over %d connections to %s on loopback\n", n, devices, publishers, brokerName)
	// ingest's own CPU time per message: unlike msgs/s it hardly depends
	// on what else the machine is doing, so runs on a busy machine compare.
	cpu0 := 0.0
	if metrics != "" {
		cpu0 = scrape(metrics, "process_cpu_seconds_total")
	}
	start := time.Now()
	profDone := make(chan error, 1)
	if profile != "" && metrics != "" {
		go func() {
			profDone <- fetchProfile(strings.TrimSuffix(metrics, "/metrics")+"/debug/pprof/profile?seconds=8", profile)
		}()
	} else {
		profDone <- nil
	}
	pubErr := make(chan error, 1)
	var published time.Duration
	go func() {
		err := loadgen.Publish(ctx, clients, loadgen.Plan{From: 0, To: n, Devices: devices, Base: time.Now().Add(-time.Hour), Window: window})
		published = time.Since(start)
		pubErr <- err
	}()
	for done() < n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out with %d of %d done", done(), n)
		case <-time.After(100 * time.Millisecond):
		}
	}
	elapsed := time.Since(start)
	if err := <-pubErr; err != nil {
		return err
	}
	if err := <-profDone; err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	what := "stored in InfluxDB and acknowledged by ingest"
	if baseline {
		what = "received by a paho subscriber that does nothing"
	}
	fmt.Printf("published in %s (%.0f msgs/s)\n", published.Round(time.Millisecond), float64(n)/published.Seconds())
	fmt.Printf("%d messages %s in %s: %.0f msgs/s end to end\n", n, what, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
	if metrics != "" {
		cpu := scrape(metrics, "process_cpu_seconds_total") - cpu0
		fmt.Printf("ingest used %.2f CPU-seconds: %.2f µs of CPU per message\n", cpu, cpu/float64(n)*1e6)
	}
	if in != nil {
		// With the spool, an acknowledgement means "in the spool": wait
		// for the drain before counting.
		drainStart := time.Now()
		got, err := countSeq(in.URL, in.DB)
		for err == nil && got < n && time.Since(drainStart) < time.Minute {
			time.Sleep(200 * time.Millisecond)
			got, err = countSeq(in.URL, in.DB)
		}
		if err != nil {
			return err
		}
		if d := time.Since(drainStart); d > time.Second {
			fmt.Printf("the spool drained into InfluxDB %s after the last acknowledgement\n", d.Round(100*time.Millisecond))
		}
		if got != n {
			return fmt.Errorf("InfluxDB holds %d points with seq, want exactly %d", got, n)
		}
		fmt.Printf("InfluxDB holds exactly %d points, one per message\n", got)
	}
	if profile != "" {
		fmt.Printf("CPU profile of ingest: %s (go tool pprof -top %s)\n", profile, profile)
	}
	return nil
}

func waitReady(ctx context.Context, url string) error {
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ingest not ready: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// scraper skips gzip: the bench polls often and should cost ingest little.
var scraper = &http.Client{Transport: &http.Transport{DisableCompression: true}}

func scrape(url, name string) float64 {
	resp, err := scraper.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

func fetchProfile(url, path string) error {
	time.Sleep(time.Second)
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

func countSeq(url, db string) (int, error) {
	resp, err := http.PostForm(url+"/query", map[string][]string{"db": {db}, "q": {`SELECT count("seq") FROM /.*/`}})
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Results []struct {
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, err
	}
	n := 0
	for _, res := range r.Results {
		for _, s := range res.Series {
			for _, v := range s.Values {
				if f, ok := v[1].(float64); ok {
					n += int(f)
				}
			}
		}
	}
	return n, nil
}
