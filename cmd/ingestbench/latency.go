package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"
	"github.com/ioc-vn/ioc/internal/allinone"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/sim"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// latencyOptions are a latency run: events per phase, their rate, and
// the load beside the second phase.
type latencyOptions struct {
	events   int           // tamper events per phase, one fresh camera each
	rate     int           // events per second
	loadRate int           // simulate load's msgs/s beside the second phase; 0: idle only
	warmup   time.Duration // load before the second phase is timed
}

// latency measures what an operator waits for: from a camera's tamper event
// published (QoS 1) to the embedded broker of an all-in-one IOC on its
// shipped defaults (configs/all-in-one.yaml: embedded store, shipped
// rules) until the `alert` frame for that camera arrives on a logged-in
// operator's /api/v1/stream websocket. It runs idle, then with the
// province's regular reports at loadRate beside it, and prints p50, p99
// and max of each, with the machine's load average.
func (b *bench) latency(ctx context.Context, o latencyOptions) error {
	sys, err := b.startAllInOne(ctx)
	if err != nil {
		return err
	}
	defer sys.stop()
	need := o.events
	if o.loadRate > 0 {
		need *= 2
	}
	order, integOf, err := pickCameras(sys.reg, need)
	if err != nil {
		return err
	}
	ws, err := operatorStream(sys.base)
	if err != nil {
		return err
	}
	defer ws.Close()
	alerts := watchTamperAlerts(ws)
	pubs, err := connectPublishers(sys.cfg.Ingest.Broker.Listen, integOf)
	if err != nil {
		return err
	}
	defer func() {
		for _, cl := range pubs {
			cl.Disconnect(100)
		}
	}()
	p := &latencyPhase{rate: o.rate, pubs: pubs, integOf: integOf, alerts: alerts}

	fmt.Printf("device tamper event (QoS 1) → alert frame on /api/v1/stream; all-in-one, embedded store, shipped rules; %d events/s\n", o.rate)
	if err := p.run(ctx, "idle", order[:o.events]); err != nil {
		return err
	}
	if o.loadRate == 0 {
		return nil
	}
	return withLoad(ctx, sys, o, func() error {
		return p.run(ctx, fmt.Sprintf("with %d msgs/s of load", o.loadRate), order[o.events:])
	})
}

// latencySystem is the all-in-one under test.
type latencySystem struct {
	cfg  *allinone.Config
	reg  *registry.Registry
	base string // http://host:port of the IOC server
	stop func() // stops it and waits
}

// startAllInOne runs ioc-all on the shipped defaults in a temporary
// directory, with the province's registry and credentials copied there.
func (b *bench) startAllInOne(ctx context.Context) (*latencySystem, error) {
	dir := b.TempDir()
	copyConfig := func(name string) (string, error) {
		data, err := os.ReadFile(filepath.Join("configs", name))
		if err != nil {
			return "", fmt.Errorf("%w (run from the repository's root)", err)
		}
		p := filepath.Join(dir, name)
		return p, os.WriteFile(p, data, 0o600)
	}
	regPath, err := copyConfig("province.yaml")
	if err != nil {
		return nil, err
	}
	credPath, err := copyConfig("credentials.yaml")
	if err != nil {
		return nil, err
	}
	port := func() string { return "127.0.0.1:" + strconv.Itoa(testenv.FreePort(b)) }
	c, err := allinone.LoadConfig([]string{"-config", "configs/all-in-one.yaml", "-simulate", "false",
		"-data-dir", filepath.Join(dir, "data"), "-registry", regPath,
		"-listen", port(), "-broker.listen", port(), "-http.listen", port(),
		"-session-secret", "latency-bench-secret-latency-bench-secret"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		return nil, err
	}
	c.Ingest.Credentials, c.IOC.Credentials = credPath, credPath
	reg, err := registry.Load(regPath)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- allinone.Run(runCtx, c, allinone.Options{Log: slog.New(slog.DiscardHandler), Ready: func(a net.Addr) { ready <- a }})
	}()
	stop := func() { cancel(); <-done }
	select {
	case a := <-ready:
		return &latencySystem{cfg: c, reg: reg, base: "http://" + a.String(), stop: stop}, nil
	case err := <-done:
		cancel()
		return nil, fmt.Errorf("ioc-all: %w", err)
	case <-ctx.Done():
		stop()
		return nil, ctx.Err()
	}
}

// pickCameras returns need cameras of the province in registry order,
// and each one's integrator.
func pickCameras(reg *registry.Registry, need int) (order []string, integOf map[string]string, err error) {
	integOf = map[string]string{}
	for _, d := range reg.Devices() {
		if d.Kind == registry.Camera && len(order) < need {
			integOf[d.ID] = d.Integrator
			order = append(order, d.ID)
		}
	}
	if len(order) < need {
		return nil, nil, fmt.Errorf("the province has %d cameras; %d events need as many (lower -n)", len(order), need)
	}
	return order, integOf, nil
}

// connectPublishers connects one client per integrator, with its demo
// password.
func connectPublishers(broker string, integOf map[string]string) (map[string]paho.Client, error) {
	pubs := map[string]paho.Client{}
	for _, integ := range integOf {
		if pubs[integ] != nil {
			continue
		}
		cl := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + broker).
			SetClientID("latency-" + integ).SetUsername(integ).SetPassword("demo-" + integ).
			SetAutoReconnect(false).SetConnectTimeout(10 * time.Second))
		if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			for _, c := range pubs {
				c.Disconnect(100)
			}
			return nil, fmt.Errorf("connect as %s: %v", integ, tok.Error())
		}
		pubs[integ] = cl
	}
	return pubs, nil
}

// tamperAlerts records when each camera's first tamper alert frame
// arrived on the stream.
type tamperAlerts struct {
	mu      sync.Mutex
	seen    map[string]time.Time // camera → arrival
	arrived chan struct{}        // a frame arrived (coalesced)
}

// watchTamperAlerts reads ws until it closes.
func watchTamperAlerts(ws *websocket.Conn) *tamperAlerts {
	t := &tamperAlerts{seen: map[string]time.Time{}, arrived: make(chan struct{}, 1)}
	go func() {
		for {
			var f struct {
				Type  string `json:"type"`
				Alert *struct {
					Rule   string `json:"rule"`
					Device string `json:"device"`
				} `json:"alert"`
			}
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			at := time.Now()
			if json.Unmarshal(data, &f) != nil || f.Type != "alert" || f.Alert == nil || f.Alert.Rule != "camera-tamper" {
				continue
			}
			t.mu.Lock()
			if _, ok := t.seen[f.Alert.Device]; !ok {
				t.seen[f.Alert.Device] = at
			}
			t.mu.Unlock()
			select {
			case t.arrived <- struct{}{}:
			default:
			}
		}
	}()
	return t
}

// wait returns once every camera's alert arrived, or after 30 s.
func (t *tamperAlerts) wait(ctx context.Context, name string, cameras []string) error {
	deadline := time.After(30 * time.Second)
	for {
		t.mu.Lock()
		n := 0
		for _, cam := range cameras {
			if _, ok := t.seen[cam]; ok {
				n++
			}
		}
		t.mu.Unlock()
		if n == len(cameras) {
			return nil
		}
		select {
		case <-t.arrived:
		case <-deadline:
			return fmt.Errorf("%s: %d of %d alerts arrived in 30 s", name, n, len(cameras))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// latencyPhase sends tamper events at rate and times their alerts.
type latencyPhase struct {
	rate    int
	pubs    map[string]paho.Client // integrator → client
	integOf map[string]string      // camera → integrator
	alerts  *tamperAlerts
}

// run sends one event per camera, waits for every alert and prints the
// percentiles.
func (p *latencyPhase) run(ctx context.Context, name string, cameras []string) error {
	load1 := loadAvg()
	sent := make(map[string]time.Time, len(cameras))
	tick := time.NewTicker(time.Second / time.Duration(p.rate))
	defer tick.Stop()
	for _, cam := range cameras {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
		body := fmt.Appendf(nil, `{"ts": %d, "type": "tamper"}`, time.Now().UnixMilli())
		sent[cam] = time.Now()
		integ := p.integOf[cam]
		p.pubs[integ].Publish(contract.DeviceTopic(integ, cam, "event"), 1, false, body)
	}
	if err := p.alerts.wait(ctx, name, cameras); err != nil {
		return err
	}
	lat := make([]time.Duration, 0, len(cameras))
	p.alerts.mu.Lock()
	for _, cam := range cameras {
		lat = append(lat, p.alerts.seen[cam].Sub(sent[cam]))
	}
	p.alerts.mu.Unlock()
	slices.Sort(lat)
	q := func(f float64) time.Duration {
		return lat[min(len(lat)-1, int(f*float64(len(lat))))].Round(100 * time.Microsecond)
	}
	fmt.Printf("%-28s %5d events  p50 %-8s p99 %-8s max %-8s  load average %s → %s\n",
		name, len(lat), q(0.50), q(0.99), lat[len(lat)-1].Round(100*time.Microsecond), load1, loadAvg())
	return nil
}

// withLoad runs timed with the province's regular reports at
// o.loadRate beside it, after o.warmup, and says how much load was
// acknowledged.
func withLoad(ctx context.Context, sys *latencySystem, o latencyOptions, timed func() error) error {
	loadCtx, stopLoad := context.WithCancel(ctx)
	loadStart := time.Now()
	loadDone := make(chan sim.LoadResult, 1)
	go func() {
		r, err := sim.Load(loadCtx, sys.cfg.Simulator, sys.reg, sim.LoadOptions{Rate: o.loadRate, Duration: time.Hour}, slog.New(slog.DiscardHandler))
		if err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "ingestbench: load:", err)
		}
		loadDone <- r
	}()
	var err error
	select {
	case <-time.After(o.warmup):
		err = timed()
	case <-ctx.Done():
		err = ctx.Err()
	}
	stopLoad()
	r := <-loadDone
	el := time.Since(loadStart)
	fmt.Printf("load beside it: %d messages acknowledged in %s = %.0f msgs/s of the %d asked\n", r.Acked, el.Round(time.Millisecond), float64(r.Acked)/el.Seconds(), o.loadRate)
	return err
}

// operatorStream logs in as the demo operator and opens the live stream.
func operatorStream(base string) (*websocket.Conn, error) {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	body, _ := json.Marshal(map[string]string{"username": "operator", "password": "demo-operator"})
	req, _ := http.NewRequest("POST", base+"/api/v1/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	r, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	out, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("login: %d %s", r.StatusCode, out)
	}
	u, _ := url.Parse(base)
	h := http.Header{"Origin": {base}}
	for _, ck := range jar.Cookies(u) {
		h.Add("Cookie", ck.Name+"="+ck.Value)
	}
	ws, resp, err := websocket.DefaultDialer.Dial("ws://"+u.Host+"/api/v1/stream", h)
	if err != nil {
		if resp != nil {
			b, _ := io.ReadAll(resp.Body)
			return nil, fmt.Errorf("stream: %w: %d %s", err, resp.StatusCode, b)
		}
		return nil, fmt.Errorf("stream: %w", err)
	}
	return ws, nil
}

// loadAvg is the 1-minute load average: on a shared machine the numbers
// mean little without it.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}
