package ingestd_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/lease"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// haWatch is what an IOC server sees of alerting, counted: raises as
// transitions of the retained alert topics (absent or resolved → active)
// and as raised events, command results by id, and the lease's records.
type haWatch struct {
	mu      sync.Mutex
	active  map[string]alert.Alert
	raises  map[string]int // retained topic went active
	raised  map[string]int // raised events: distinct transitions (seq, time)
	seen    map[string]bool
	dups    int // raised events heard again (QoS 1 redelivery: same seq and time)
	results map[string]int
	leases  []leaseSeen
}

type leaseSeen struct {
	at time.Time
	r  lease.Record
}

func watchAlerting(t *testing.T, url string) *haWatch {
	t.Helper()
	w := &haWatch{active: map[string]alert.Alert{}, raises: map[string]int{}, raised: map[string]int{}, seen: map[string]bool{}, results: map[string]int{}}
	c := client(t, url, "ha-watch")
	tok := c.Subscribe(contract.ServerRoot+"#", 1, func(_ paho.Client, m paho.Message) {
		w.mu.Lock()
		defer w.mu.Unlock()
		switch topic := m.Topic(); {
		case topic == contract.AlertOwnerTopic:
			r, err := lease.Parse(m.Payload())
			if err != nil {
				t.Errorf("lease record %q: %v", m.Payload(), err)
			}
			w.leases = append(w.leases, leaseSeen{time.Now(), r})
		case strings.HasPrefix(topic, contract.AlertsPrefix):
			id := strings.TrimPrefix(topic, contract.AlertsPrefix)
			if len(m.Payload()) == 0 {
				delete(w.active, id)
				return
			}
			var a alert.Alert
			if err := json.Unmarshal(m.Payload(), &a); err != nil {
				t.Errorf("%s: %v", topic, err)
				return
			}
			if _, was := w.active[id]; !was && !m.Retained() {
				w.raises[id]++
			}
			w.active[id] = a
		case topic == contract.EventsTopic:
			var e eventRec
			if json.Unmarshal(m.Payload(), &e) == nil && e.Alert != nil && e.Kind == string(alert.Raised) {
				// MQTT QoS 1 is at least once: a publish resent after a
				// reconnect is the same transition (its seq and time), not
				// a second raise.
				key := fmt.Sprintf("%s/%d/%s", e.Alert.ID, e.Seq, e.At.Format(time.RFC3339Nano))
				if w.seen[key] {
					w.dups++
					return
				}
				w.seen[key] = true
				w.raised[e.Alert.ID]++
			}
		case topic == contract.ResultsTopic:
			var r contract.CommandResult
			if json.Unmarshal(m.Payload(), &r) == nil {
				w.results[r.ID]++
			}
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return w
}

// owner is the owner of the latest serving lease record heard after since.
func (w *haWatch) owner(since time.Time) (lease.Record, time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := len(w.leases) - 1; i >= 0; i-- {
		l := w.leases[i]
		if l.at.Before(since) {
			break
		}
		if !l.r.Released && l.r.Serving {
			return l.r, l.at, true
		}
	}
	return lease.Record{}, time.Time{}, false
}

func (w *haWatch) waitActive(t *testing.T, ids []string, timeout time.Duration) {
	t.Helper()
	testenv.Eventually(t, timeout, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, id := range ids {
			if _, ok := w.active[id]; !ok {
				return fmt.Errorf("alert %s not active", id)
			}
		}
		return nil
	})
}

func (w *haWatch) waitResult(t *testing.T, id string, timeout time.Duration) {
	t.Helper()
	testenv.Eventually(t, timeout, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.results[id] == 0 {
			return fmt.Errorf("command %s not answered", id)
		}
		return nil
	})
}

// haRegistry writes a registry of n cameras of integrator vms-tn and rules
// with the tamper rule alone.
func haFiles(t *testing.T, n int) (registry, rules string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("province: Test\ndistricts: [{id: d1, name: \"Quận 1\"}]\nintegrators: [{id: vms-tn, name: VMS}]\ndevices:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {id: cam-%03d, kind: camera, name: \"Camera %d\", district: d1, integrator: vms-tn}\n", i, i)
	}
	dir := t.TempDir()
	registry, rules = filepath.Join(dir, "devices.yaml"), filepath.Join(dir, "rules.yaml")
	const tamper = `rules:
  - id: camera-tamper
    kind: event
    severity: critical
    scope: {kinds: [camera]}
    types: [tamper]
    message: {vi: "Che camera {{.Device.Name}}", en: "Tamper at {{.Device.Name}}"}
`
	for p, body := range map[string]string{registry: b.String(), rules: tamper} {
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return registry, rules
}

// TestAlertOwnerSIGKILL runs two ingest binaries in one shared group on
// Mosquitto, both able to own alerting (alerts.lease), with status
// messages flowing from 200 cameras and tamper events raising alerts,
// and SIGKILLs whichever owns alerting several times (once with -short),
// restarting it each time. Each time the other takes over within 10 s;
// in the end every tampered camera's alert was raised exactly once (on
// the retained topic and on the events topic), acknowledgements made
// before a kill are kept, and every command, one sent while no one owned
// alerting among them, was answered exactly once.
func TestAlertOwnerSIGKILL(t *testing.T) {
	const cameras = 200
	kills := faultRuns(t, 3)
	if testing.Short() {
		kills = 1
	}
	mq := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
	registry, rules := haFiles(t, cameras)
	w := watchAlerting(t, mq.URL)
	procs := map[string]*proc{}
	for i := range 2 {
		id := fmt.Sprintf("ingest-ha-%d", i)
		procs[id] = newProc(t, "IOC_MQTT_BROKER="+mq.URL, "IOC_REGISTRY="+registry, "IOC_ALERT_RULES="+rules,
			"IOC_MQTT_CLIENT_ID="+id, "IOC_MQTT_SHARED_GROUP=ingest", "IOC_ALERTS_LEASE=true", "IOC_LOG_LEVEL=info") // the takeovers in the log on failure
		procs[id].start()
	}

	// Load beside it: every camera's status, about 1,000 messages a second.
	pub := client(t, mq.URL, "ha-load")
	stopLoad := make(chan struct{})
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stopLoad:
				return
			case <-tick.C:
			}
			for j := range 10 {
				pub.Publish(fmt.Sprintf("ioc/v1/vms-tn/cam-%03d/status", (i*10+j)%cameras), 1, false, []byte(`{"state":"online","recording":true}`))
			}
		}
	}()
	t.Cleanup(func() {
		select {
		case <-stopLoad:
		default:
			close(stopLoad)
		}
		<-loadDone
	})

	events := client(t, mq.URL, "ha-events")
	next := 0
	tamper := func(n int) []string {
		var ids []string
		for range n {
			cam := fmt.Sprintf("cam-%03d", next)
			next++
			publish(t, events, "ioc/v1/vms-tn/"+cam+"/event", []byte(`{"type":"tamper"}`))
			ids = append(ids, "camera-tamper/"+cam)
		}
		return ids
	}
	command := func(id, alertID string) {
		b, _ := json.Marshal(contract.Command{ID: id, Op: contract.OpAck, Alert: alertID, By: "truc-ban", Note: "đã xem"})
		publish(t, events, contract.CommandsTopic, b)
	}

	var all, acked, commands []string
	since := time.Now().Add(-time.Minute)
	for round := range kills {
		var cur lease.Record
		testenv.Eventually(t, 15*time.Second, func() error {
			var ok bool
			if cur, _, ok = w.owner(since); !ok {
				return fmt.Errorf("no ingest owns alerting")
			}
			return nil
		})
		before := tamper(10)
		w.waitActive(t, before, 10*time.Second)
		ackID := fmt.Sprintf("ack-%d", round)
		command(ackID, before[0])
		w.waitResult(t, ackID, 10*time.Second)

		during := make(chan []string, 1)
		go func() {
			var ids []string
			for range 10 {
				ids = append(ids, tamper(1)...)
				time.Sleep(100 * time.Millisecond)
			}
			during <- ids
		}()
		time.Sleep(300 * time.Millisecond)
		procs[cur.Owner].kill()
		killed := time.Now()
		gapID := fmt.Sprintf("ack-gap-%d", round)
		command(gapID, before[1]) // no one owns alerting now
		var took time.Duration
		testenv.Eventually(t, 15*time.Second, func() error {
			r, at, ok := w.owner(killed)
			if !ok || r.Owner == cur.Owner || r.Epoch <= cur.Epoch {
				return fmt.Errorf("no takeover yet")
			}
			took = at.Sub(killed)
			return nil
		})
		t.Logf("round %d: %s (epoch %d) killed; taken over in %v", round, cur.Owner, cur.Epoch, took.Round(time.Millisecond))
		if took > 10*time.Second {
			t.Errorf("takeover took %v, want at most 10 s", took)
		}
		for id, p := range procs {
			if id != cur.Owner {
				if held := metric(t, p.httpAddr, "ioc_alert_lease_held"); held != 1 {
					t.Errorf("%s owns alerting but ioc_alert_lease_held is %v", id, held)
				}
			}
		}
		ids := <-during
		procs[cur.Owner].start() // back as a standby
		w.waitActive(t, ids, 15*time.Second)
		w.waitResult(t, gapID, 15*time.Second)
		all = append(append(all, before...), ids...)
		acked = append(acked, before[0], before[1])
		commands = append(commands, ackID, gapID)
		since = killed
	}
	close(stopLoad)
	<-loadDone

	w.waitActive(t, all, 15*time.Second)
	time.Sleep(2 * time.Second) // room for a duplicate to show
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range all {
		if w.raises[id] != 1 || w.raised[id] != 1 {
			t.Errorf("%s raised %d times on its retained topic and %d on the events, want once each", id, w.raises[id], w.raised[id])
		}
	}
	for _, id := range acked {
		if a := w.active[id]; a.Ack == nil || a.Ack.By != "truc-ban" {
			t.Errorf("%s: acknowledgement lost: %+v", id, a.Ack)
		}
	}
	for _, id := range commands {
		if w.results[id] != 1 {
			t.Errorf("command %s answered %d times, want once", id, w.results[id])
		}
	}
}

// splitProxy stands between one ingest and the broker: cut stops
// forwarding in both directions without closing anything (a network
// split: neither side notices until its keepalive runs out), heal closes
// the connections cut off (the split ending as it does once a keepalive
// fires) and forwards again.
type splitProxy struct {
	ln     net.Listener
	target string
	cut    atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func newSplitProxy(t *testing.T, target string) *splitProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &splitProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.closeAll() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			go p.pipe(c, b)
			go p.pipe(b, c)
		}
	}()
	return p
}

func (p *splitProxy) url() string { return "tcp://" + p.ln.Addr().String() }

func (p *splitProxy) pipe(from, to net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if err != nil {
			to.Close()
			return
		}
		if p.cut.Load() {
			continue // lost in the split
		}
		if _, err := to.Write(buf[:n]); err != nil {
			from.Close()
			return
		}
	}
}

func (p *splitProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *splitProxy) heal() {
	p.closeAll()
	p.cut.Store(false)
}

// TestAlertOwnerCutOff splits the alert owner from the broker without
// closing its connection (no will until the split ends): the owner stops
// owning before the standby takes over, the standby takes over within
// 10 s, and when the split ends (the old connection closed, its late will
// published) the old owner stays a standby; every tamper alert, published
// on both sides of the split, is raised exactly once: on its retained
// topic once, and once on the events topic as a transition (the old
// owner's client may send a raised event again after reconnecting, the
// same record with its seq and time: QoS 1 is at least once, and the
// consumers take it once).
func TestAlertOwnerCutOff(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: two ingest processes, Mosquitto and a proxy")
	}
	const cameras = 50
	mq := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
	px := newSplitProxy(t, strings.TrimPrefix(mq.URL, "tcp://"))
	registry, rules := haFiles(t, cameras)
	w := watchAlerting(t, mq.URL)
	start := func(id, broker string) *proc {
		p := newProc(t, "IOC_MQTT_BROKER="+broker, "IOC_REGISTRY="+registry, "IOC_ALERT_RULES="+rules,
			"IOC_MQTT_CLIENT_ID="+id, "IOC_MQTT_SHARED_GROUP=ingest", "IOC_ALERTS_LEASE=true", "IOC_LOG_LEVEL=info")
		p.start()
		return p
	}
	a := start("ingest-cut-a", px.url()) // first: it takes the lease
	testenv.Eventually(t, 15*time.Second, func() error {
		if r, _, ok := w.owner(time.Time{}); !ok || r.Owner != "ingest-cut-a" {
			return fmt.Errorf("a does not own alerting yet")
		}
		return nil
	})
	b := start("ingest-cut-b", mq.URL)
	events := client(t, mq.URL, "cut-events")
	next := 0
	tamper := func(n int) []string {
		var ids []string
		for range n {
			cam := fmt.Sprintf("cam-%03d", next)
			next++
			publish(t, events, "ioc/v1/vms-tn/"+cam+"/event", []byte(`{"type":"tamper"}`))
			ids = append(ids, "camera-tamper/"+cam)
		}
		return ids
	}
	all := tamper(10)
	w.waitActive(t, all, 10*time.Second)

	px.cut.Store(true)
	cut := time.Now()
	var stepped time.Duration
	testenv.Eventually(t, 10*time.Second, func() error {
		if metric(t, a.httpAddr, "ioc_alert_lease_held") != 0 {
			return fmt.Errorf("a still owns alerting")
		}
		stepped = time.Since(cut)
		return nil
	})
	var took time.Duration
	testenv.Eventually(t, 15*time.Second, func() error {
		r, at, ok := w.owner(cut)
		if !ok || r.Owner != "ingest-cut-b" {
			return fmt.Errorf("b has not taken over")
		}
		took = at.Sub(cut)
		return nil
	})
	t.Logf("cut off: a stopped owning within %v, b took over after %v", stepped.Round(100*time.Millisecond), took.Round(time.Millisecond))
	if took > 10*time.Second {
		t.Errorf("takeover %v after the split, want at most 10 s", took)
	}
	if stepped >= took {
		t.Errorf("a was still owning (%v) when b took over (%v)", stepped, took)
	}
	during := tamper(10) // some are the cut-off ingest's share: delivered when it is back
	px.heal()
	all = append(all, during...)
	w.waitActive(t, all, 30*time.Second)
	time.Sleep(3 * time.Second) // past a's reconnect, its late will and b's answer to it
	if held := metric(t, a.httpAddr, "ioc_alert_lease_held"); held != 0 {
		t.Errorf("a owns alerting again after the split")
	}
	if held := metric(t, b.httpAddr, "ioc_alert_lease_held"); held != 1 {
		t.Errorf("b no longer owns alerting after the split")
	}
	if r, _, ok := w.owner(time.Now().Add(-5 * time.Second)); !ok || r.Owner != "ingest-cut-b" {
		t.Errorf("the lease after the split: %+v", r)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range all {
		if w.raises[id] != 1 || w.raised[id] != 1 {
			t.Errorf("%s raised %d times on its retained topic and %d on the events, want once each", id, w.raises[id], w.raised[id])
		}
	}
	t.Logf("raised events heard again (the same transition, QoS 1 redelivery): %d", w.dups)
}
