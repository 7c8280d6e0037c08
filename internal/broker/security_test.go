package broker_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/access"
	"github.com/ioc-vn/ioc/internal/broker"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/testenv"
	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"
)

// The shipped demo accounts: each password is demo-<username>.
const (
	credentialsFile = "../../configs/credentials.yaml"
	registryFile    = "../../configs/devices.yaml"
)

func shippedPolicy(t testing.TB) (*access.Policy, *registry.Registry) {
	t.Helper()
	reg, err := registry.Load(registryFile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := access.Load(credentialsFile, reg)
	if err != nil {
		t.Fatal(err)
	}
	return p, reg
}

// secure is an embedded broker with the shipped accounts.
type secure struct {
	b       *broker.Broker
	addr    string
	url     string
	intake  chan *broker.Message
	metrics *prometheus.Registry
	stop    func()
}

type secureOptions struct {
	dataDir string
	addr    string // empty: a free port
	limits  broker.RetainLimits
	policy  *access.Policy
}

func startSecure(t *testing.T, o secureOptions) *secure {
	t.Helper()
	if o.addr == "" {
		o.addr = "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	}
	if o.policy == nil {
		o.policy, _ = shippedPolicy(t)
	}
	s := &secure{addr: o.addr, url: "tcp://" + o.addr, intake: make(chan *broker.Message, 100), metrics: prometheus.NewRegistry()}
	b, err := broker.New(broker.Config{Listen: o.addr, DataDir: o.dataDir}, broker.Deps{
		Log: slog.New(slog.DiscardHandler), Metrics: s.metrics, IntakePrefix: "ioc/v1/",
		Intake: func(m *broker.Message) { s.intake <- m }, Access: o.policy, Retained: o.limits,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	s.stop = func() { once.Do(func() { b.Close() }) }
	t.Cleanup(s.stop)
	s.b = b
	return s
}

// refused reads ioc_broker_refused_total{reason}.
func (s *secure) refused(t testing.TB, reason string) float64 {
	t.Helper()
	mfs, err := s.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "ioc_broker_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// pahoDial connects an MQTT 3.1.1 client and returns the connection error.
func pahoDial(url, id, user string, clean bool, opts ...func(*paho.ClientOptions)) (paho.Client, error) {
	o := paho.NewClientOptions().AddBroker(url).SetClientID(id).SetUsername(user).SetPassword("demo-" + user).
		SetCleanSession(clean).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).SetProtocolVersion(4)
	for _, f := range opts {
		f(o)
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, errors.New("connect timed out")
	}
	return c, tok.Error()
}

// watcher is a server-account subscriber that records what it receives.
type watcher struct {
	mu  sync.Mutex
	got []string // "topic retained=bool payload"
	c   paho.Client
	id  string

	markers map[string]bool
}

func watch(t *testing.T, url, id, filter string) *watcher {
	t.Helper()
	w := &watcher{id: id}
	c, err := pahoDial(url, id, "ioc-ingest", true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(0) })
	w.c = c
	handler := func(_ paho.Client, m paho.Message) {
		if strings.HasPrefix(m.Topic(), "$") || strings.HasPrefix(string(m.Payload()), "marker-") && w.seen(string(m.Payload())) {
			return // the broker's own $SYS topics; a marker matching both subscriptions
		}
		w.mu.Lock()
		w.got = append(w.got, fmt.Sprintf("%s retained=%v %s", m.Topic(), m.Retained(), m.Payload()))
		w.mu.Unlock()
	}
	// QoS 0: the watcher acknowledges nothing it need not (bare mochi
	// keeps one packet id space per client for both directions; the
	// broker's packetIDHook keeps a SUBSCRIBE apart from deliveries).
	tok := c.Subscribe(filter, 0, handler)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	// The marker subscription is processed after the first one has queued
	// its retained messages (one connection's packets are handled in order).
	tok = c.Subscribe(contract.SyncPrefix+id, 0, handler)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	return w
}

// seen reports whether payload was received before (mochi may deliver a
// message once per matching subscription).
func (w *watcher) seen(payload string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.markers == nil {
		w.markers = map[string]bool{}
	}
	was := w.markers[payload]
	w.markers[payload] = true
	return was
}

// until publishes a marker to the watcher through the broker itself and
// returns, sorted, what the watcher got before it: a subscriber's messages
// arrive in the order they were queued, so whatever was queued earlier
// (retained messages, wills of connections already gone) is in the list.
func (w *watcher) until(t *testing.T, b *broker.Broker) []string {
	t.Helper()
	marker := "marker-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := b.Publish(contract.SyncPrefix+w.id, 1, false, []byte(marker)); err != nil {
		t.Fatal(err)
	}
	var before []string
	testenv.Eventually(t, 10*time.Second, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		for i, g := range w.got {
			if strings.HasSuffix(g, " "+marker) {
				before = append([]string(nil), w.got[:i]...)
				slices.Sort(before)
				w.got = w.got[i+1:]
				return nil
			}
		}
		return fmt.Errorf("marker not received yet; got %q", w.got)
	})
	return before
}

// forbiddenWills are will topics the integrator envsense may not publish:
// every server topic the alert service and the IOC servers act on or
// show, another integrator's device, its own _errors topic.
var forbiddenWills = []string{
	contract.CommandsTopic,
	contract.AlertsPrefix + "forged-rule/aq-tp-01",
	contract.DevicesPrefix + "cam-bvtw-03",
	contract.MaintenancePrefix + "district:dong-hy",
	contract.EventsTopic,
	contract.ResultsTopic,
	contract.ObservationsPrefix + "ingest-1",
	contract.SyncPrefix + "ioc-web-1",
	"ioc/v1/vms-tn/cam-bvtw-03/status",
	"ioc/v1/envsense/_errors",
	"$SYS/broker/clients/connected",
	"elsewhere",
}

// TestWillOutsideAccountRefused (F1): a CONNECT whose last will names a
// topic the account may not publish is refused, under MQTT 3.1.1 and 5,
// counted and never delivered; a will on its own device topic is
// accepted.
func TestWillOutsideAccountRefused(t *testing.T) {
	s := startSecure(t, secureOptions{})
	type tc struct {
		user, topic string
		v5, v4      byte
	}
	var cases []tc
	for _, topic := range forbiddenWills {
		cases = append(cases, tc{"envsense", topic, 0x87, 5}, tc{"cam-bvtw-01", topic, 0x87, 5})
	}
	cases = append(cases,
		tc{"cam-bvtw-01", "ioc/v1/vms-tn/cam-bvtw-02/status", 0x87, 5}, // a device account: another device of its integrator
		tc{"envsense", "ioc/v1/envsense/+/status", 0x90, 5},            // a wildcard is no topic name
		tc{"envsense", "ioc/server/v1/#", 0x90, 5},
	)
	w := watch(t, s.url, "watch-all", "#")
	n := 0
	for _, c := range cases {
		for _, v := range []byte{4, 5} {
			want := c.v4
			if v == 5 {
				want = c.v5
			}
			rc, code := rawConnect(t, s.addr, connectParams{v: v, id: fmt.Sprintf("will-%d", n), user: c.user, pass: "demo-" + c.user,
				clean: true, willTopic: c.topic, willBody: `{"id":"x","op":"maintenance_start","target":"district:dong-hy","by":"attacker"}`, willRetain: true})
			rc.drop()
			n++
			if code != want {
				t.Errorf("MQTT v%d %s with will on %q: CONNACK %#x, want %#x", v, c.user, c.topic, code, want)
			}
		}
	}
	// paho (3.1.1) sees "not authorized".
	_, err := pahoDial(s.url, "paho-will", "envsense", true, func(o *paho.ClientOptions) {
		o.SetWill(contract.CommandsTopic, `{"id":"y","op":"ack","alert":"x","by":"attacker"}`, 1, false)
	})
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "not authori") {
		t.Errorf("paho with a will on the commands topic: %v, want not authorized", err)
	}
	n++
	if got := s.refused(t, "will"); got != float64(n) {
		t.Errorf(`ioc_broker_refused_total{reason="will"} = %v, want %d`, got, n)
	}
	if got := w.until(t, s.b); len(got) != 0 {
		t.Errorf("delivered from refused wills: %q", got)
	}
	select {
	case m := <-s.intake:
		t.Errorf("a refused will reached ingest: %s", m.Topic())
	default:
	}

	// Its own device: accepted, delivered when the connection drops, and
	// handed to ingest, but not retained.
	rc, code := rawConnect(t, s.addr, connectParams{v: 5, id: "own-will", user: "envsense", pass: "demo-envsense", clean: true,
		willTopic: "ioc/v1/envsense/aq-tp-01/status", willBody: `{"state":"offline"}`, willRetain: true})
	if code != 0 {
		t.Fatalf("will on its own device: CONNACK %#x", code)
	}
	rc.drop()
	select {
	case m := <-s.intake:
		if m.Topic() != "ioc/v1/envsense/aq-tp-01/status" {
			t.Errorf("intake got %s", m.Topic())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the device's own will did not reach ingest")
	}
	late := watch(t, s.url, "watch-late", "ioc/v1/#")
	if got := late.until(t, s.b); len(got) != 0 {
		t.Errorf("retained device will: %q", got)
	}
}

// TestWillCheckedWhenSent (F1): a will allowed at connect is checked again
// when it is sent; after a credentials reload took the topic away, it goes
// nowhere, neither to subscribers nor to ingest.
func TestWillCheckedWhenSent(t *testing.T) {
	shipped, reg := shippedPolicy(t)
	s := startSecure(t, secureOptions{policy: shipped})
	w := watch(t, s.url, "watch", "ioc/v1/#")
	connect := func(id string) *rawConn {
		rc, code := rawConnect(t, s.addr, connectParams{v: 4, id: id, user: "envsense", pass: "demo-envsense", clean: true,
			willTopic: "ioc/v1/envsense/aq-tp-01/status", willBody: `{"state":"offline"}`})
		if code != 0 {
			t.Fatalf("CONNACK %#x", code)
		}
		return rc
	}
	waitGone := func(id string) {
		testenv.Eventually(t, 10*time.Second, func() error {
			if s.b.HasSession(id) {
				return errors.New("session still there")
			}
			return nil
		})
	}

	// Before the reload: delivered.
	connect("before").drop()
	waitGone("before")
	if got := w.until(t, s.b); len(got) != 1 {
		t.Fatalf("will before the reload: %q, want one delivery", got)
	}
	<-s.intake

	// envsense is now a device account for aq-tp-02 only.
	rc := connect("after")
	var f access.File
	raw, err := os.ReadFile(credentialsFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	for i, a := range f.Accounts {
		if a.Username == "envsense" {
			f.Accounts[i].Role, f.Accounts[i].Device = access.RoleDevice, "aq-tp-02"
		}
	}
	reloaded, err := access.New(f, reg)
	if err != nil {
		t.Fatal(err)
	}
	s.b.SetAccess(reloaded)
	rc.drop()
	waitGone("after")
	if got := w.until(t, s.b); len(got) != 0 {
		t.Errorf("will after the reload delivered: %q", got)
	}
	select {
	case m := <-s.intake:
		t.Errorf("will after the reload reached ingest: %s", m.Topic())
	default:
	}
	if got := s.refused(t, "will"); got != 1 {
		t.Errorf(`refused{reason="will"} = %v, want 1`, got)
	}
}

// TestClientIDBelongsToAccount (F2, F4): a client id belongs to the
// account whose session holds it. Another account can neither resume that
// session (and receive what was queued for it) nor kick its connection;
// the same account can (a device replacing its own stale connection).
func TestClientIDBelongsToAccount(t *testing.T) {
	s := startSecure(t, secureOptions{dataDir: t.TempDir()})

	t.Run("queued messages stay with their account", func(t *testing.T) {
		vms, err := pahoDial(s.url, "vms-errs", "vms-tn", false)
		if err != nil {
			t.Fatal(err)
		}
		if tok := vms.Subscribe("ioc/v1/vms-tn/_errors", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		vms.Disconnect(100)
		// ingest's rejection report for vms-tn, queued for the offline session.
		if err := s.b.Publish("ioc/v1/vms-tn/_errors", 1, false, []byte(`{"reason":"unknown_device","payload_head":"{\"vms_secret\":1}"}`)); err != nil {
			t.Fatal(err)
		}
		for _, v := range []byte{4, 5} {
			rc, code := rawConnect(t, s.addr, connectParams{v: v, id: "vms-errs", user: "envsense", pass: "demo-envsense", sessionExpirySeconds: 3600})
			want := byte(0x85)
			if v == 4 {
				want = 2
			}
			if code != want {
				t.Errorf("MQTT v%d: envsense resuming vms-tn's session: CONNACK %#x, want %#x", v, code, want)
			}
			if pk, err := rc.read(200 * time.Millisecond); err == nil {
				t.Errorf("MQTT v%d: envsense received a packet (type %d) on %q: %s", v, pk.FixedHeader.Type, pk.TopicName, pk.Payload)
			}
		}
		if _, err := pahoDial(s.url, "vms-errs", "envsense", false); err == nil || !strings.Contains(strings.ToLower(err.Error()), "identifier rejected") {
			t.Errorf("paho: envsense resuming vms-tn's session: %v, want identifier rejected", err)
		}
		// The session is intact: vms-tn gets its report.
		got := make(chan string, 1)
		vms, err = pahoDial(s.url, "vms-errs", "vms-tn", false, func(o *paho.ClientOptions) {
			o.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { got <- string(m.Payload()) })
		})
		if err != nil {
			t.Fatal(err)
		}
		defer vms.Disconnect(0)
		select {
		case p := <-got:
			if !strings.Contains(p, "vms_secret") {
				t.Errorf("vms-tn got %s", p)
			}
		case <-time.After(10 * time.Second):
			t.Error("vms-tn's queued report was lost")
		}
	})

	t.Run("no kick across accounts, takeover within one", func(t *testing.T) {
		lost := make(chan error, 2)
		got := make(chan string, 10)
		gw, err := pahoDial(s.url, "gw-1", "vms-tn", true, func(o *paho.ClientOptions) {
			o.SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err })
		})
		if err != nil {
			t.Fatal(err)
		}
		defer gw.Disconnect(0)
		if tok := gw.Subscribe("ioc/v1/vms-tn/_errors", 1, func(_ paho.Client, m paho.Message) { got <- string(m.Payload()) }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		before := s.refused(t, "client_id_in_use")
		for _, user := range []string{"envsense", "ioc-server", "cam-bvtw-01"} {
			if c, err := pahoDial(s.url, "gw-1", user, true); err == nil {
				c.Disconnect(0)
				t.Errorf("%s took over vms-tn's client id gw-1", user)
			}
		}
		rawConnect(t, s.addr, connectParams{v: 5, id: "gw-1", user: "envsense", pass: "demo-envsense", clean: true})
		if n := s.refused(t, "client_id_in_use") - before; n != 4 {
			t.Errorf(`refused{reason="client_id_in_use"} rose by %v, want 4`, n)
		}
		// Still connected: a message reaches it on the same connection.
		if err := s.b.Publish("ioc/v1/vms-tn/_errors", 1, false, []byte("still-here")); err != nil {
			t.Fatal(err)
		}
		select {
		case p := <-got:
			if p != "still-here" {
				t.Errorf("got %q", p)
			}
		case err := <-lost:
			t.Fatalf("vms-tn's connection was lost: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("vms-tn's connection no longer receives")
		}
		// The same account takes over (a reconnect after a network drop).
		again, err := pahoDial(s.url, "gw-1", "vms-tn", true)
		if err != nil {
			t.Fatalf("vms-tn replacing its own connection: %v", err)
		}
		defer again.Disconnect(0)
		select {
		case <-lost:
		case <-time.After(10 * time.Second):
			t.Error("the stale connection was not replaced")
		}
	})
}

// TestClientIDBindingSurvivesRestart (F2): the binding comes from the
// persisted session, which keeps its username across a restart.
func TestClientIDBindingSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s := startSecure(t, secureOptions{dataDir: dir})
	vms, err := pahoDial(s.url, "vms-persist", "vms-tn", false)
	if err != nil {
		t.Fatal(err)
	}
	if tok := vms.Subscribe("ioc/v1/vms-tn/_errors", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	vms.Disconnect(100)
	testenv.Eventually(t, 5*time.Second, func() error {
		if s.b.HasSession("vms-persist") {
			return nil
		}
		return errors.New("no session")
	})
	s.stop()

	s = startSecure(t, secureOptions{dataDir: dir, addr: s.addr})
	if !s.b.HasSession("vms-persist") {
		t.Fatal("the persistent session did not survive the restart")
	}
	if err := s.b.Publish("ioc/v1/vms-tn/_errors", 1, false, []byte("queued")); err != nil {
		t.Fatal(err)
	}
	if _, code := rawConnect(t, s.addr, connectParams{v: 4, id: "vms-persist", user: "envsense", pass: "demo-envsense"}); code != 2 {
		t.Errorf("envsense resuming vms-tn's restored session: CONNACK %#x, want 2", code)
	}
	rc, code := rawConnect(t, s.addr, connectParams{v: 4, id: "vms-persist", user: "vms-tn", pass: "demo-vms-tn"})
	if code != 0 {
		t.Fatalf("vms-tn resuming its session: CONNACK %#x", code)
	}
	pk, err := rc.read(10 * time.Second)
	if err != nil || string(pk.Payload) != "queued" {
		t.Errorf("vms-tn's queued message: %q %v", pk.Payload, err)
	}
}

// TestDeviceTopicsNeverRetained (F3): a retained publish on a device topic,
// refused by ingest (a made-up device) or stored, is forwarded without
// its retain flag, so a later subscriber gets nothing retained. Only
// server accounts write retained server topics: an integrator's retained
// publish or will there is refused.
func TestDeviceTopicsNeverRetained(t *testing.T) {
	s := startSecure(t, secureOptions{})
	env, err := pahoDial(s.url, "env-gw", "envsense", true)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Disconnect(0)
	for _, topic := range []string{"ioc/v1/envsense/ghost-1/telemetry", "ioc/v1/envsense/aq-tp-01/telemetry"} {
		tok := env.Publish(topic, 1, true, `{"x":1}`)
		select {
		case m := <-s.intake:
			m.Ack() // as ingest does, refused or stored
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not reach ingest", topic)
		}
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", topic, tok.Error())
		}
	}
	// A device will with the retain flag.
	rc, code := rawConnect(t, s.addr, connectParams{v: 5, id: "env-will", user: "envsense", pass: "demo-envsense", clean: true,
		willTopic: "ioc/v1/envsense/aq-tp-02/status", willBody: `{"state":"offline"}`, willRetain: true})
	if code != 0 {
		t.Fatalf("CONNACK %#x", code)
	}
	rc.drop()
	<-s.intake

	// An integrator's retained publish and will on a server topic.
	if _, code := rawConnect(t, s.addr, connectParams{v: 5, id: "env-forge", user: "envsense", pass: "demo-envsense", clean: true,
		willTopic: contract.AlertsPrefix + "forged/aq-tp-01", willBody: `{"message":"EVACUATE NOW"}`, willRetain: true}); code != 0x87 {
		t.Errorf("retained will on a server topic: CONNACK %#x, want 0x87", code)
	}
	forger, err := pahoDial(s.url, "env-forge", "envsense", true)
	if err != nil {
		t.Fatal(err)
	}
	forger.Publish(contract.AlertsPrefix+"forged/aq-tp-01", 1, true, `{"message":"EVACUATE NOW"}`).WaitTimeout(2 * time.Second)
	testenv.Eventually(t, 5*time.Second, func() error {
		if forger.IsConnected() {
			return errors.New("still connected after a forbidden publish")
		}
		return nil
	})

	late := watch(t, s.url, "late", "#")
	if got := late.until(t, s.b); len(got) != 0 {
		t.Errorf("retained for a new subscriber: %q", got)
	}
}

// TestRetainedStoreBounded (F3): the retained store holds at most its
// limits; a retained message over them is delivered but not kept, counted,
// and room comes back when a retained message is cleared.
func TestRetainedStoreBounded(t *testing.T) {
	s := startSecure(t, secureOptions{limits: broker.RetainLimits{Messages: 3, Bytes: 1000}})
	srv, err := pahoDial(s.url, "alerts", "ioc-ingest", true)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Disconnect(0)
	retain := func(device, body string) {
		t.Helper()
		if tok := srv.Publish(contract.DevicesPrefix+device, 1, true, body); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	retained := func() []string {
		t.Helper()
		w := watch(t, s.url, "w-"+strconv.FormatInt(time.Now().UnixNano(), 36), contract.DevicesPrefix+"#")
		var got []string
		for _, g := range w.until(t, s.b) {
			if strings.Contains(g, " retained=true ") { // not one still being delivered live
				got = append(got, g)
			}
		}
		w.c.Disconnect(0)
		return got
	}
	retain("a", "1")
	retain("b", "2")
	retain("c", "3")
	retain("d", "4")                       // over the count
	retain("a", "11")                      // replacing fits
	retain("e", strings.Repeat("x", 1000)) // over the bytes
	want := []string{
		contract.DevicesPrefix + "a retained=true 11",
		contract.DevicesPrefix + "b retained=true 2",
		contract.DevicesPrefix + "c retained=true 3",
	}
	if got := retained(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("retained:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := s.refused(t, "retained"); got != 2 {
		t.Errorf(`refused{reason="retained"} = %v, want 2`, got)
	}
	retain("b", "") // cleared: room for d
	retain("d", "4")
	want = []string{want[0], want[2], contract.DevicesPrefix + "d retained=true 4"}
	if got := retained(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("retained after clearing b:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
