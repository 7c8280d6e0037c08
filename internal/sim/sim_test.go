package sim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/sim"
	"github.com/ioc-vn/ioc/internal/testenv"
	"gopkg.in/yaml.v3"
)

const configs = "../../configs/"

// TestSampleFieldsMatch: configs/devices.yaml declares the same fields as
// the simulated province, so the documented examples and the simulator
// are held to one set of declarations.
func TestSampleFieldsMatch(t *testing.T) {
	b, err := os.ReadFile(configs + "devices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f registry.File
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	for _, ms := range f.Fields {
		for _, fs := range ms {
			for name, d := range fs {
				d.Line = 0
				fs[name] = d
			}
		}
	}
	if !reflect.DeepEqual(f.Fields, sim.Fields()) {
		t.Fatalf("configs/devices.yaml fields:\n%v\nsim.Fields():\n%v", f.Fields, sim.Fields())
	}
}

// TestProvinceFile: configs/province.yaml is what the generator makes,
// and the province has the promised shape.
func TestProvinceFile(t *testing.T) {
	var b bytes.Buffer
	if err := sim.WriteYAML(&b, sim.Generate(1), sim.Header); err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile(configs + "province.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), committed) {
		t.Fatal("configs/province.yaml differs from the generator's output: go run ./cmd/simulate gen > configs/province.yaml")
	}
	reg, err := registry.Load(configs + "province.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(reg.Districts()); n != 9 {
		t.Errorf("%d districts, want 9", n)
	}
	cams := map[string]int{}
	kinds := map[registry.Kind]int{}
	types := map[string]int{}
	names := map[string]bool{}
	for _, d := range reg.Devices() {
		kinds[d.Kind]++
		if d.Kind == registry.Camera {
			cams[d.Parent]++
			if d.Profile == nil {
				t.Errorf("%s: camera without a profile", d.ID)
			}
		}
		if d.Kind == registry.Sensor {
			types[sim.SensorType(d.ID)]++
		}
		// Inside the province's extent (configs/province-outline.geojson).
		if d.Lat < 21.3 || d.Lat > 22.06 || d.Lon < 105.58 || d.Lon > 106.24 {
			t.Errorf("%s at %v,%v: outside the province", d.ID, d.Lat, d.Lon)
		}
		if names[d.Name] {
			t.Errorf("%s: name %q used twice", d.ID, d.Name)
		}
		names[d.Name] = true
	}
	if kinds[registry.NVR] != 40 || kinds[registry.Sensor] != 200 || kinds[registry.Camera] < 300 || kinds[registry.Gateway] != 9 {
		t.Errorf("devices by kind: %v; want 40 recorders, 300+ cameras, 200 sensors, 9 gateways", kinds)
	}
	for nvr, n := range cams {
		if n < 8 || n > 16 {
			t.Errorf("%s has %d cameras, want 8..16", nvr, n)
		}
	}
	for _, typ := range []string{sim.AirQuality, sim.WaterLevel, sim.Traffic, sim.Streetlight} {
		if types[typ] < 20 {
			t.Errorf("%d %s sensors, want at least 20", types[typ], typ)
		}
	}
	// The sample sites keep their ids, so the docs' examples work here too.
	for _, id := range []string{"nvr-bvtw", "cam-bvtw-01", "aq-tp-01", "wl-vonhai-01", "gw-env-tp"} {
		if _, ok := reg.Device(id); !ok {
			t.Errorf("%s missing", id)
		}
	}
}

// TestIncidentsRaiseTheirAlerts plays the province against a real ingest
// (embedded broker, store, shipped rules and accounts) and starts each
// incident: each raises the alert an operator should see.
func TestIncidentsRaiseTheirAlerts(t *testing.T) {
	if testing.Short() {
		t.Skip("plays 722 devices for about half a minute")
	}
	broker, _ := startIngest(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Watch as an IOC server would, and the sensors' readings.
	var mu sync.Mutex
	alerts := map[string]map[string]any{}
	maxPM := map[string]float64{}
	watch, err := sim.Connect(ctx, broker, "watcher", sim.Account{Username: "ioc-ingest", Password: "demo-ioc-ingest"})
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Disconnect(100)
	tok := watch.SubscribeMultiple(map[string]byte{"ioc/server/v1/alerts/#": 1, "ioc/v1/envsense/+/telemetry": 0}, func(_ paho.Client, m paho.Message) {
		mu.Lock()
		defer mu.Unlock()
		if id, ok := strings.CutPrefix(m.Topic(), "ioc/server/v1/alerts/"); ok {
			var a map[string]any
			if len(m.Payload()) > 0 && json.Unmarshal(m.Payload(), &a) == nil {
				alerts[id] = a
			}
			return
		}
		var r struct{ PM25 float64 }
		if json.Unmarshal(m.Payload(), &r) == nil {
			dev := strings.Split(m.Topic(), "/")[3]
			maxPM[dev] = max(maxPM[dev], r.PM25)
		}
	})
	if tok.Wait(); tok.Error() != nil {
		t.Fatal(tok.Error())
	}

	reg, err := registry.Load(configs + "province.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := sim.DefaultConfig()
	cfg.Broker, cfg.StatusEvery, cfg.TelemetryEvery, cfg.Incidents = broker, 500*time.Millisecond, 500*time.Millisecond, false
	s := sim.New(cfg, reg, quiet)
	simDone := make(chan error, 1)
	simCtx, stopSim := context.WithCancel(ctx)
	go func() { simDone <- s.Run(simCtx) }()
	defer func() { stopSim(); <-simDone }()
	testenv.Eventually(t, 20*time.Second, func() error {
		if st := s.Stats(); st.Published < uint64(s.Devices()) {
			return fmt.Errorf("published %d of %d devices' first reports", st.Published, s.Devices())
		}
		return nil
	})

	// The alert each incident should raise, by the incident's target.
	want := map[string]func(target string) (alert string, check func(a map[string]any) bool){
		sim.TamperedCamera: func(d string) (string, func(map[string]any) bool) { return "camera-tamper/" + d, nil },
		sim.RecorderFull:   func(d string) (string, func(map[string]any) bool) { return "recorder-disk-full/" + d, nil },
		sim.NVROutage:      func(d string) (string, func(map[string]any) bool) { return "device-offline/" + d, nil },
		sim.RisingRiver:    func(d string) (string, func(map[string]any) bool) { return "water-rising/" + d, nil },
		sim.FlappingCamera: func(d string) (string, func(map[string]any) bool) {
			return "device-offline/" + d, func(a map[string]any) bool { f, _ := a["flaps"].(float64); return f >= 1 }
		},
		sim.PowerCut: func(d string) (string, func(map[string]any) bool) { return "device-offline/" + d, nil },
	}
	for _, kind := range sim.Kinds {
		name, err := s.Start(kind)
		if err != nil {
			t.Fatal(err)
		}
		target := strings.TrimPrefix(name, kind+"/")
		if kind == sim.PM25Spike {
			// pm25-high needs 5 minutes above 150 (tested in the rules);
			// here: the sensor reports the spike.
			testenv.Eventually(t, 10*time.Second, func() error {
				mu.Lock()
				defer mu.Unlock()
				if maxPM[target] <= 150 {
					return fmt.Errorf("%s: highest pm25 %v, want the spike above 150", target, maxPM[target])
				}
				return nil
			})
			continue
		}
		id, check := want[kind](target)
		testenv.Eventually(t, 30*time.Second, func() error {
			mu.Lock()
			defer mu.Unlock()
			a, ok := alerts[id]
			if !ok {
				return fmt.Errorf("incident %s: no alert %s yet", name, id)
			}
			if check != nil && !check(a) {
				return fmt.Errorf("incident %s: alert %s is %v", name, id, a)
			}
			return nil
		})
		t.Logf("incident %s raised %s", name, id)
	}
	if st := s.Stats(); st.Failed > 0 || len(st.Active) != len(sim.Kinds) {
		t.Errorf("stats %+v: want no failed publish and %d incidents under way", st, len(sim.Kinds))
	}
}

var quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

// startIngest runs ingest with the simulated province, the shipped rules
// and accounts until the test ends: the broker's URL and the HTTP address.
func startIngest(t *testing.T) (broker, httpAddr string) {
	in := testenv.StartIngest(t, testenv.IngestConfig(t, configs, "province.yaml"), ingestd.Options{Log: quiet})
	return in.Broker, in.HTTP
}

// TestSoakShort is the soak bench in miniature: the province with its
// incidents and 500 msgs/s of load for 6 s, a report every 2 s with
// ingest's memory and goroutines read from its metrics, nothing failed.
func TestSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the province for seconds")
	}
	broker, httpAddr := startIngest(t)
	reg, err := registry.Load(configs + "province.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := sim.DefaultConfig()
	cfg.Broker = broker
	var out bytes.Buffer
	res, err := sim.Soak(context.Background(), cfg, reg, sim.SoakOptions{Rate: 500, Duration: 6500 * time.Millisecond, Every: 2 * time.Second,
		Metrics: "http://" + httpAddr + "/metrics"}, &out, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("soak report:\n%s", out.String())
	if res.Failed > 0 || res.Acked < 2500 {
		t.Fatalf("load: %s", res)
	}
	rows := 0
	for _, line := range strings.Split(out.String(), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 12 || !strings.HasSuffix(strings.TrimSpace(cells[1]), "s") {
			continue
		}
		rows++
		if rss, _ := strconv.ParseFloat(strings.TrimSpace(cells[8]), 64); rss <= 0 {
			t.Errorf("row without ingest's memory: %s", line)
		}
		if g, _ := strconv.ParseFloat(strings.TrimSpace(cells[10]), 64); g <= 0 {
			t.Errorf("row without ingest's goroutines: %s", line)
		}
	}
	if rows != 3 {
		t.Errorf("%d report rows, want 3:\n%s", rows, out.String())
	}
}
