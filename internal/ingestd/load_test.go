package ingestd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/loadgen"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// publishAll publishes messages [from, to) of the loadgen stream from the
// clients, waiting for every PUBACK; pace is the total rate (0: flat out).
func publishAll(t testing.TB, clients []paho.Client, from, to, devices int, base time.Time, pace int, withoutTS func(int) bool) {
	t.Helper()
	err := loadgen.Publish(context.Background(), clients, loadgen.Plan{
		From: from, To: to, Devices: devices, Base: base, Rate: pace, WithoutTS: withoutTS,
	})
	if err != nil {
		t.Error(err)
	}
}

// publishThroughOutage is publishAll for persistent-session devices across
// a broker outage: a failed publish is resent by paho after reconnecting,
// so publishing goes on and the test counts what was stored.
// publishing runs publishAll of messages 0..n in the background; the
// channel closes when every one is acknowledged by the broker.
func publishing(t testing.TB, clients []paho.Client, n, devices, pace int, withoutTS func(int) bool) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		publishAll(t, clients, 0, n, devices, time.Now().Add(-time.Hour), pace, withoutTS)
	}()
	return done
}

func publishThroughOutage(clients []paho.Client, n, devices int, pace int, withoutTS func(int) bool) {
	_ = loadgen.Publish(context.Background(), clients, loadgen.Plan{
		From: 0, To: n, Devices: devices, Base: time.Now().Add(-time.Hour), Rate: pace, WithoutTS: withoutTS, ContinueOnError: true,
	})
}

func waitCount(t *testing.T, in *testenv.Influx, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n := influxCount(t, in, "seq")
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages stored after %s; missing seq: %v", n, want, timeout, missingSeqs(t, in, want))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// missingSeqs lists (at most 20 of) the sequence numbers below want that
// InfluxDB does not have, to tell which kind of message was lost.
func missingSeqs(t *testing.T, in *testenv.Influx, want int) []int {
	var resp struct {
		Results []struct {
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(in.InfluxQL(t, `SELECT "seq" FROM /.*/`)), &resp); err != nil {
		t.Fatal(err)
	}
	seen := make([]bool, want)
	for _, r := range resp.Results {
		for _, s := range r.Series {
			for _, v := range s.Values {
				if f, ok := v[1].(float64); ok && int(f) >= 0 && int(f) < want {
					seen[int(f)] = true
				}
			}
		}
	}
	var missing []int
	for i, ok := range seen {
		if !ok && len(missing) < 20 {
			missing = append(missing, i)
		}
	}
	return missing
}

// waitExactly waits until want messages are stored, lets late redeliveries
// arrive, and checks that none was stored twice.
func waitExactly(t *testing.T, in *testenv.Influx, want int, timeout time.Duration) {
	t.Helper()
	waitCount(t, in, want, timeout)
	time.Sleep(time.Second)
	if got := influxCount(t, in, "seq"); got != want {
		t.Fatalf("%d points after settling, want exactly %d: a redelivery was stored twice", got, want)
	}
}

// waitStatus polls url until it answers code.
func waitStatus(t *testing.T, url string, code int, timeout time.Duration) {
	t.Helper()
	testenv.Eventually(t, timeout, func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != code {
			return fmt.Errorf("%s answers %s, want %d", url, resp.Status, code)
		}
		return nil
	})
}

// throughMosquitto starts InfluxDB and Mosquitto and returns a config for
// an ingest between them with a registry of devices sensors.
func throughMosquitto(t *testing.T, devices int) (*testenv.Influx, *testenv.Mosquitto, *ingestd.Config) {
	t.Helper()
	in := testenv.StartInflux(t)
	mq := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
	c := testConfig(t)
	c.Registry = writeRegistry(t, devices)
	c.MQTT.Broker = mq.URL
	c.Influx.URL, c.Influx.Database = in.URL, in.DB
	return in, mq, c
}

// persistentClient is a device that keeps its session (clean session off),
// so publishes without a PUBACK are resent after a reconnect.
func persistentClient(t *testing.T, url, id string) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(false).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond).
		SetMaxReconnectInterval(time.Second)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// Test100kMessagesFrom10kDevices: every one of 100,000 mixed-format messages
// from 10,000 devices ends up in InfluxDB, through Mosquitto.
func Test100kMessagesFrom10kDevices(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const n, devices = 100_000, 10_000
	in, mq, c := throughMosquitto(t, devices)
	ing := startIngest(t, c, nil)
	var clients []paho.Client
	for i := range 4 {
		clients = append(clients, client(t, mq.URL, fmt.Sprintf("load-%d", i)))
	}
	start := time.Now()
	publishAll(t, clients, 0, n, devices, time.Now().Add(-time.Hour), 0, nil)
	waitCount(t, in, n, 120*time.Second)
	t.Logf("%d messages from %d devices stored in %s", n, devices, time.Since(start).Round(time.Millisecond))
	if got := metric(t, ing.HTTP, "ioc_ingest_messages_acked_total"); got != n {
		t.Errorf("acknowledged %v messages, want %d", got, n)
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// ingestBinary builds cmd/ingest once per test run.
func ingestBinary(t *testing.T) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ioc-ingest-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "ingest")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/ingest").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc runs the ingest binary with env, restartable.
type proc struct {
	t        *testing.T
	bin      string
	env      []string
	httpAddr string
	log      *os.File
	cmd      *exec.Cmd
}

func newProc(t *testing.T, env ...string) *proc {
	dataDir := t.TempDir()
	p := &proc{t: t, bin: ingestBinary(t), httpAddr: "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))}
	rules, err := filepath.Abs("../../configs/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p.env = append(append(os.Environ(), "IOC_DATA_DIR="+dataDir, "IOC_HTTP_LISTEN="+p.httpAddr, "IOC_LOG_LEVEL=warn", "IOC_DEMO=true", "IOC_ALERT_RULES="+rules), env...)
	if p.log, err = os.Create(filepath.Join(dataDir, "ingest.log")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd != nil {
			p.cmd.Process.Signal(syscall.SIGTERM)
			p.cmd.Wait()
		}
		p.log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(p.log.Name())
			t.Logf("ingest log:\n%s", b)
		}
	})
	return p
}

// start runs the binary and waits until /readyz says ready.
func (p *proc) start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin)
	p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr = p.env, p.log, p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	waitStatus(p.t, "http://"+p.httpAddr+"/readyz", http.StatusOK, 20*time.Second)
}

func (p *proc) kill() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatal(err)
	}
	p.cmd.Wait()
	p.cmd = nil
}

// TestSIGKILLMidStream kills the ingest process twice while messages flow
// and restarts it: every message is stored exactly once, including those
// without a timestamp of their own.
func TestSIGKILLMidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test")
	}
	const n, devices = 30_000, 1_000
	in := testenv.StartInflux(t)
	mq := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
	p := newProc(t, "IOC_MQTT_BROKER="+mq.URL, "IOC_INFLUX_URL="+in.URL, "IOC_INFLUX_DATABASE="+in.DB,
		"IOC_REGISTRY="+writeRegistry(t, devices), "IOC_MQTT_CLIENT_ID=ingest-sigkill")
	p.start()
	pubs := []paho.Client{client(t, mq.URL, "kill-pub-0"), client(t, mq.URL, "kill-pub-1")}
	done := publishing(t, pubs, n, devices, 6000, func(i int) bool { return i%4 == 0 })
	for _, at := range []time.Duration{1200 * time.Millisecond, 1600 * time.Millisecond} {
		time.Sleep(at)
		p.kill()
		p.start()
	}
	<-done
	waitExactly(t, in, n, 90*time.Second)
}

// TestSIGKILLEmbeddedBroker is the default setup: ingest runs the broker
// devices publish to. Killing the process kills the broker too; messages
// it acknowledged to devices must survive in its persistent store and be
// delivered to ingest after the restart.
func TestSIGKILLEmbeddedBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test")
	}
	const n, devices = 20_000, 1_000
	in := testenv.StartInflux(t)
	brokerAddr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	p := newProc(t, "IOC_BROKER_LISTEN="+brokerAddr, "IOC_BROKER_ALLOW_ANONYMOUS=true", "IOC_INFLUX_URL="+in.URL, "IOC_INFLUX_DATABASE="+in.DB,
		"IOC_REGISTRY="+writeRegistry(t, devices), "IOC_MQTT_CLIENT_ID=ingest-embedded")
	p.start()
	url := "tcp://" + brokerAddr
	// Devices keep a persistent session: a publish without a PUBACK when
	// the broker dies is sent again after it returns.
	pub := persistentClient(t, url, "embedded-pub")
	done := make(chan struct{})
	go func() {
		defer close(done)
		publishThroughOutage([]paho.Client{pub}, n, devices, 5000, nil)
	}()
	time.Sleep(1500 * time.Millisecond)
	p.kill()
	p.start()
	<-done
	waitExactly(t, in, n, 90*time.Second)
}

// TestInfluxOutage30s stops InfluxDB for 30 s while messages flow: ingest
// keeps acknowledging into its disk spool (and stays ready), the status
// page shows the backlog and the database's error, and afterwards the
// spool drains: every message stored exactly once. The window is small,
// so without the spool the broker would have to hold the backlog.
func TestInfluxOutage30s(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test")
	}
	const n, devices = 20_000, 1_000
	in, mq, c := throughMosquitto(t, devices)
	c.Influx.Timeout = 5 * time.Second
	c.Pipeline.MaxInFlight = 2000
	c.Pipeline.RetryMax = 2 * time.Second
	ing := startIngest(t, c, nil)
	pub := client(t, mq.URL, "outage-pub")
	done := publishing(t, []paho.Client{pub}, n, devices, 1000, func(i int) bool { return i%5 == 0 })
	time.Sleep(2 * time.Second)
	in.Stop()
	stopped := time.Now()
	acked := metric(t, ing.HTTP, "ioc_ingest_messages_acked_total")
	testenv.Eventually(t, 15*time.Second, func() error {
		s := statusJSON(t, ing.HTTP)
		if s.Spool == nil || s.Spool.Entries == 0 || s.Database == "ok" {
			return fmt.Errorf("status during the outage: %+v", s)
		}
		if now := metric(t, ing.HTTP, "ioc_ingest_messages_acked_total"); now < acked+2000 {
			return fmt.Errorf("acknowledged %v messages since InfluxDB stopped; want them spooled and acknowledged", now-acked)
		}
		return nil
	})
	waitStatus(t, "http://"+ing.HTTP+"/readyz", http.StatusOK, 5*time.Second)
	// Live alerts keep flowing: a device's last will during the outage is
	// on the server topics at once (alerts are made from spooled data).
	w := watchWall(t, mq.URL)
	publish(t, pub, "ioc/v1/bench/dev-00007/status", []byte(`{"state":"offline"}`))
	w.event("raised", "device-offline/dev-00007", 5*time.Second)
	time.Sleep(30*time.Second - time.Since(stopped))
	in.Start()
	<-done
	waitExactly(t, in, n, 90*time.Second)
	testenv.Eventually(t, 10*time.Second, func() error {
		if s := statusJSON(t, ing.HTTP); s.Spool.Entries != 0 || s.Spool.Drained < n/2 {
			return fmt.Errorf("spool after the outage: %+v", s.Spool)
		}
		return nil
	})
}

// TestInfluxOutageWithoutSpool: with the spool off, an InfluxDB outage
// stops acknowledgement instead (the broker holds the backlog), readiness
// says so, and nothing is lost.
func TestInfluxOutageWithoutSpool(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test")
	}
	const n, devices = 10_000, 1_000
	in, mq, c := throughMosquitto(t, devices)
	c.Spool.Enabled = false
	c.Influx.Timeout = 5 * time.Second
	c.Pipeline.MaxInFlight = 2000
	c.Pipeline.RetryMax = 2 * time.Second
	ing := startIngest(t, c, nil)
	pub := client(t, mq.URL, "outage-nospool-pub")
	done := publishing(t, []paho.Client{pub}, n, devices, 1000, func(i int) bool { return i%5 == 0 })
	time.Sleep(2 * time.Second)
	in.Stop()
	stopped := time.Now()
	waitStatus(t, "http://"+ing.HTTP+"/readyz", http.StatusServiceUnavailable, 15*time.Second)
	time.Sleep(10*time.Second - time.Since(stopped))
	in.Start()
	<-done
	waitExactly(t, in, n, 90*time.Second)
}

// ingestStatus is the status page's JSON.
type ingestStatus struct {
	Database string
	Spool    *struct {
		Entries int
		Bytes   int64
		Drained int64 `json:"drained_points"`
	}
}

func statusJSON(t *testing.T, addr string) ingestStatus {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/?format=json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s ingestStatus
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBrokerRestartMidStream restarts Mosquitto (with persistence) while
// messages flow: ingest reconnects on its own and every message the broker
// accepted is stored exactly once.
func TestBrokerRestartMidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test")
	}
	const n, devices = 20_000, 1_000
	in, mq, c := throughMosquitto(t, devices)
	startIngest(t, c, nil)
	// Devices keep a persistent session too, so publishes without a PUBACK
	// are resent after the broker comes back.
	pub := persistentClient(t, mq.URL, "restart-pub")
	done := make(chan struct{})
	go func() {
		defer close(done)
		publishThroughOutage([]paho.Client{pub}, n, devices, 4000, func(i int) bool { return i%5 == 0 })
	}()
	time.Sleep(1500 * time.Millisecond)
	mq.Stop()
	time.Sleep(time.Second)
	mq.Start()
	<-done
	waitExactly(t, in, n, 60*time.Second)
}

// TestSharedSubscriptionSplitsLoad runs two ingest processes in one shared
// subscription group on Mosquitto: both take part, and every message is
// stored exactly once.
func TestSharedSubscriptionSplitsLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const n, devices = 20_000, 1_000
	in := testenv.StartInflux(t)
	mq := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
	reg := writeRegistry(t, devices)
	var ings []*running
	for i := range 2 {
		c := testConfig(t)
		c.Registry = reg
		c.MQTT.Broker = mq.URL
		c.MQTT.ClientID = fmt.Sprintf("ingest-shared-%d", i)
		c.MQTT.SharedGroup = "ingest"
		c.Alerts.Forward = i > 0 // one alert owner per group
		c.Influx.URL, c.Influx.Database = in.URL, in.DB
		ings = append(ings, startIngest(t, c, nil))
	}
	pubs := []paho.Client{client(t, mq.URL, "shared-pub-0"), client(t, mq.URL, "shared-pub-1")}
	publishAll(t, pubs, 0, n, devices, time.Now().Add(-time.Hour), 0, func(i int) bool { return i%5 == 0 })
	waitExactly(t, in, n, 60*time.Second)
	total := 0.0
	for i, ing := range ings {
		got := metric(t, ing.HTTP, "ioc_ingest_messages_acked_total")
		if got < n/10 {
			t.Errorf("ingest %d acknowledged %v of %d messages: the group did not share the load", i, got, n)
		}
		total += got
	}
	if total != n {
		t.Errorf("the two ingests acknowledged %v messages together, want %d", total, n)
	}
}
