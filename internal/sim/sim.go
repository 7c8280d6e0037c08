package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/registry"
)

// Config is the simulator's part of a configuration file.
type Config struct {
	// Broker is where the devices publish, e.g. tcp://127.0.0.1:1883.
	Broker string `yaml:"broker"`
	// Accounts are the integrators' MQTT accounts, by integrator id.
	Accounts map[string]Account `yaml:"accounts"`
	// StatusEvery is how often cameras and recorders report status;
	// TelemetryEvery how often sensors report readings.
	StatusEvery    time.Duration `yaml:"status_every"`
	TelemetryEvery time.Duration `yaml:"telemetry_every"`
	// Incidents turns on the scripted incidents at start and random ones
	// every IncidentEvery after that.
	Incidents     bool          `yaml:"incidents"`
	IncidentEvery time.Duration `yaml:"incident_every"`
	Seed          uint64        `yaml:"seed"`
}

// Account is an MQTT username and password.
type Account struct {
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// DefaultConfig publishes at realistic rates with incidents on, as the
// demo accounts of configs/credentials.yaml.
func DefaultConfig() Config {
	return Config{
		Broker: "tcp://127.0.0.1:1883",
		Accounts: map[string]Account{
			VMS:       {Username: VMS, Password: "demo-" + VMS},
			Env:       {Username: Env, Password: "demo-" + Env},
			SmartCity: {Username: SmartCity, Password: "demo-" + SmartCity},
		},
		StatusEvery: 30 * time.Second, TelemetryEvery: time.Minute,
		Incidents: true, IncidentEvery: 3 * time.Minute, Seed: 1,
	}
}

// Validate reports settings the simulator cannot run with.
func (c Config) Validate() error {
	var errs []error
	if c.Broker == "" {
		errs = append(errs, errors.New("simulator.broker is empty"))
	}
	if c.StatusEvery < 100*time.Millisecond || c.TelemetryEvery < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("simulator.status_every %s and telemetry_every %s: use at least 100ms", c.StatusEvery, c.TelemetryEvery))
	}
	if c.Incidents && c.IncidentEvery < time.Second {
		errs = append(errs, fmt.Errorf("simulator.incident_every %s: use at least 1s", c.IncidentEvery))
	}
	return errors.Join(errs...)
}

// device is one simulated device and what its incidents did to it.
type device struct {
	d      *registry.Device
	typ    string // sensor type
	next   time.Time
	period time.Duration
	base   float64 // pm25, water level or storage baseline

	silent   bool    // an outage: publishes nothing
	flapping bool    // alternates offline and online
	down     bool    // the flapping device's current state
	override float64 // a forced pm25 (spike), when > 0
	rise     float64 // cm added to the water level per reading
	raised   float64 // cm added so far
	storage  float64 // recorder disk used, %
	filling  bool    // the recorder's disk fills to full
}

// Simulator plays every device of a registry.
type Simulator struct {
	cfg Config
	reg *registry.Registry
	log *slog.Logger
	rnd *rand.Rand

	mu       sync.Mutex
	devices  []*device
	byID     map[string]*device
	children map[string][]*device // recorder → cameras
	clients  map[string]paho.Client
	pending  []scheduled // incident steps, by time
	active   map[string]string

	published, failed uint64
	inflight          sync.WaitGroup // publishes not yet acknowledged
	started           time.Time
	clientPrefix      string // MQTT client ids: <prefix><integrator>
}

type scheduled struct {
	at time.Time
	do func(now time.Time)
}

// New makes a simulator for the devices of reg.
func New(cfg Config, reg *registry.Registry, log *slog.Logger) *Simulator {
	s := &Simulator{cfg: cfg, reg: reg, log: log, rnd: rand.New(rand.NewPCG(cfg.Seed, 7)),
		byID: map[string]*device{}, children: map[string][]*device{}, clients: map[string]paho.Client{}, active: map[string]string{},
		clientPrefix: "ioc-sim-"}
	for _, d := range reg.Devices() {
		sd := &device{d: d, typ: SensorType(d.ID), period: cfg.StatusEvery}
		switch {
		case d.Kind == registry.Sensor:
			sd.period = cfg.TelemetryEvery
			switch sd.typ {
			case AirQuality:
				sd.base = 25 + s.rnd.Float64()*50
			case WaterLevel:
				sd.base = 120 + s.rnd.Float64()*200
			}
		case d.Kind == registry.NVR:
			sd.storage = 55 + s.rnd.Float64()*25
		}
		s.devices = append(s.devices, sd)
		s.byID[d.ID] = sd
		if d.Parent != "" && d.Kind == registry.Camera {
			s.children[d.Parent] = append(s.children[d.Parent], sd)
		}
	}
	return s
}

// Devices is how many devices the simulator plays.
func (s *Simulator) Devices() int { return len(s.devices) }

// Run connects each integrator and publishes until ctx ends.
func (s *Simulator) Run(ctx context.Context) error {
	if err := s.connect(ctx); err != nil {
		return err
	}
	defer s.disconnect()
	now := time.Now()
	s.mu.Lock()
	s.started = now
	for _, d := range s.devices {
		// Spread first reports over a few seconds so the wall fills at once
		// without a burst, then over each device's period.
		d.next = now.Add(time.Duration(s.rnd.Int64N(int64(min(d.period, 3*time.Second)))))
	}
	if s.cfg.Incidents {
		s.script(now)
	}
	s.mu.Unlock()
	s.log.Info("simulator running", "devices", len(s.devices), "broker", s.cfg.Broker, "incidents", s.cfg.Incidents)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			s.step(now)
		}
	}
}

func (s *Simulator) connect(ctx context.Context) error {
	need := map[string]bool{}
	for _, d := range s.devices {
		need[d.d.Integrator] = true
	}
	for integrator := range need {
		acc, ok := s.cfg.Accounts[integrator]
		if !ok {
			return fmt.Errorf("simulator: no account for integrator %q", integrator)
		}
		c, err := Connect(ctx, s.cfg.Broker, s.clientPrefix+integrator, acc)
		if err != nil {
			s.disconnect()
			return fmt.Errorf("simulator: %s: %w", integrator, err)
		}
		s.clients[integrator] = c
	}
	return nil
}

func (s *Simulator) disconnect() {
	// Let publishes under way be acknowledged (bounded) before hanging up.
	waited := make(chan struct{})
	go func() { s.inflight.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
	}
	for _, c := range s.clients {
		c.Disconnect(250)
	}
}

// Connect opens an integrator's connection to the broker, retrying until
// ctx ends.
func Connect(ctx context.Context, broker, clientID string, acc Account) (paho.Client, error) {
	o := paho.NewClientOptions().AddBroker(broker).SetClientID(clientID).SetCleanSession(true).
		SetUsername(acc.Username).SetPassword(acc.Password).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(500 * time.Millisecond).
		SetMaxReconnectInterval(5 * time.Second).SetWriteTimeout(10 * time.Second).SetOrderMatters(false)
	c := paho.NewClient(o)
	tok := c.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return nil, err
		}
		return c, nil
	case <-ctx.Done():
		c.Disconnect(0)
		return nil, ctx.Err()
	}
}

// step publishes what is due and runs incident steps whose time came.
func (s *Simulator) step(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.pending) > 0 && !s.pending[0].at.After(now) {
		p := s.pending[0]
		s.pending = s.pending[1:]
		p.do(now)
	}
	for _, d := range s.devices {
		if d.next.After(now) {
			continue
		}
		d.next = d.next.Add(d.period)
		if d.next.Before(now) { // after a stall: no burst of catch-up reports
			d.next = now.Add(d.period)
		}
		if d.silent {
			continue
		}
		topic, body := s.report(d, now)
		s.publish(d, topic, body)
	}
}

func (s *Simulator) publish(d *device, topic string, body []byte) {
	c := s.clients[d.d.Integrator]
	if c == nil {
		return
	}
	tok := c.Publish(topic, 1, false, body)
	s.published++
	s.inflight.Add(1)
	go func() {
		defer s.inflight.Done()
		if tok.WaitTimeout(30*time.Second) && tok.Error() == nil {
			return
		}
		s.mu.Lock()
		s.failed++
		s.mu.Unlock()
	}()
}

func topicOf(d *registry.Device, channel string) string {
	return contract.DeviceTopic(d.Integrator, d.ID, channel)
}

// report is the device's regular message at now.
func (s *Simulator) report(d *device, now time.Time) (string, []byte) {
	ts := now.UnixMilli()
	r := s.rnd
	switch d.d.Kind {
	case registry.Camera:
		if d.flapping {
			d.down = !d.down
			if d.down {
				return topicOf(d.d, "status"), fmt.Appendf(nil, `{"ts":%d,"state":"offline"}`, ts)
			}
		}
		fps, kbps := 25.0, 2048.0
		if p := d.d.Profile; p != nil {
			fps, kbps = p.FPS, p.BitrateKbps
		}
		return topicOf(d.d, "status"), fmt.Appendf(nil, `{"ts":%d,"state":"online","signal":true,"recording":true,"fps":%.1f,"bitrate_kbps":%.0f}`,
			ts, fps-r.Float64()*0.5, kbps*(0.9+r.Float64()*0.15))
	case registry.NVR:
		if d.filling {
			d.storage = math.Min(d.storage+2.5, 99.4)
		} else if d.storage += 0.002; d.storage > 85 {
			d.storage = 60 // the recorder overwrites its oldest footage
		}
		state := "online"
		if d.storage > 90 {
			state = "degraded"
		}
		return topicOf(d.d, "status"), fmt.Appendf(nil, `{"ts":%d,"state":%q,"recording":true,"storage_pct":%.1f,"cameras":%d}`,
			ts, state, d.storage, len(s.children[d.d.ID]))
	case registry.Gateway:
		return topicOf(d.d, "status"), fmt.Appendf(nil, `{"ts":%d,"state":"online","uptime_s":%d}`, ts, int64(now.Sub(s.started).Seconds()))
	}
	hour := float64(now.In(hcm).Hour()) + float64(now.Minute())/60
	switch d.typ {
	case AirQuality:
		// Worse at the morning and evening rush hours.
		pm25 := d.base*(1+0.35*math.Exp(-sq(hour-8)/4)+0.45*math.Exp(-sq(hour-19)/6)) + r.Float64()*6 - 3
		if d.override > 0 {
			pm25 = d.override + r.Float64()*20 - 10
		}
		pm25 = math.Max(pm25, 1)
		return topicOf(d.d, "telemetry"), fmt.Appendf(nil, `{"ts":%d,"pm25":%.1f,"pm10":%.1f,"temp":%.1f,"humidity":%.0f}`,
			ts, pm25, pm25*1.6+r.Float64()*5, 22+6*math.Sin((hour-9)/24*2*math.Pi)+r.Float64(), 70+r.Float64()*15)
	case WaterLevel:
		d.raised += d.rise
		if d.rise == 0 && d.raised > 0 { // receding
			d.raised = math.Max(0, d.raised-2)
		}
		return topicOf(d.d, "telemetry"), fmt.Appendf(nil, `{"ts":%d,"water_level_cm":%.1f}`, ts, d.base+d.raised+r.Float64()*1.5)
	case Traffic:
		flow := 20 + 160*math.Exp(-sq(hour-7.5)/2) + 140*math.Exp(-sq(hour-17.5)/3) + 40*math.Exp(-sq(hour-12)/8)
		return topicOf(d.d, "telemetry"), fmt.Appendf(nil, `{"ts":%d,"vehicles":%d,"avg_speed_kmh":%.1f}`,
			ts, int(flow*(0.8+r.Float64()*0.4)), math.Max(8, 45-flow/8+r.Float64()*5))
	case Streetlight:
		on := hour >= 17.75 || hour < 6
		power := 0.0
		if on {
			power = 110 + r.Float64()*10
		}
		return topicOf(d.d, "telemetry"), fmt.Appendf(nil, `{"ts":%d,"on":%t,"power_w":%.1f}`, ts, on, power)
	}
	return topicOf(d.d, "status"), fmt.Appendf(nil, `{"ts":%d,"state":"online"}`, ts)
}

func sq(x float64) float64 { return x * x }

var hcm = time.FixedZone("ICT", 7*3600)

// Stats is what the simulator has published.
type Stats struct {
	Published, Failed uint64
	Active            map[string]string // incident → what it is doing
}

// Stats reports messages published and failed, and the incidents under way.
func (s *Simulator) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Published: s.published, Failed: s.failed, Active: map[string]string{}}
	for k, v := range s.active {
		st.Active[k] = v
	}
	return st
}

// at schedules do at t; the caller holds mu.
func (s *Simulator) at(t time.Time, do func(now time.Time)) {
	s.pending = append(s.pending, scheduled{t, do})
	sort.SliceStable(s.pending, func(i, j int) bool { return s.pending[i].at.Before(s.pending[j].at) })
}
