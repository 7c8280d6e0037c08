package alertd_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/alertd"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/ingest"
	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/registry"
)

// published records what the service sends to the broker.
type published struct {
	mu   sync.Mutex
	msgs []msg
}

type msg struct {
	topic  string
	retain bool
	body   string
}

func (p *published) Publish(topic string, _ byte, retain bool, body []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, msg{topic, retain, string(body)})
	return nil
}

// events are the transitions on the events topic, as "kind alert".
func (p *published) events() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, m := range p.msgs {
		if m.topic != contract.EventsTopic {
			continue
		}
		var r struct {
			Kind  string
			Alert *alert.Alert
		}
		if json.Unmarshal([]byte(m.body), &r) == nil && r.Alert != nil {
			out = append(out, r.Kind+" "+r.Alert.ID)
		}
	}
	return out
}

// retained is the last retained payload on topic ("" cleared or none).
func (p *published) retained(topic string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	last := ""
	for _, m := range p.msgs {
		if m.topic == topic && m.retain {
			last = m.body
		}
	}
	return last
}

func (p *published) results() []contract.CommandResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []contract.CommandResult
	for _, m := range p.msgs {
		if m.topic == contract.ResultsTopic {
			var r contract.CommandResult
			_ = json.Unmarshal([]byte(m.body), &r)
			out = append(out, r)
		}
	}
	return out
}

const testRules = `
rules:
  - id: camera-tamper
    kind: event
    severity: critical
    types: [tamper]
    clear_after: 15m
    message: {vi: "{{.Device.Name}} bị che", en: "{{.Device.Name}} tampered"}
`

func testRegistry(t *testing.T) *registry.Registry {
	t.Helper()
	reg, err := registry.New(registry.File{
		Districts:   []registry.District{{ID: "d1", Name: "D1"}},
		Integrators: []registry.Integrator{{ID: "acme", Name: "A"}},
		Devices: []registry.Device{
			{ID: "cam-1", Kind: registry.Camera, Name: "Camera 1", District: "d1", Integrator: "acme"},
			{ID: "cam-2", Kind: registry.Camera, Name: "Camera 2", District: "d1", Integrator: "acme"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// start builds and runs a service over dir; stop ends it (alerts.db saved).
func start(t *testing.T, dir string, pub *published) (s *alertd.Service, stop func()) {
	t.Helper()
	return startWith(t, dir, pub, alertd.Config{Renotify: 15 * time.Minute})
}

// startWith is start with a configuration.
func startWith(t *testing.T, dir string, pub *published, c alertd.Config) (s *alertd.Service, stop func()) {
	t.Helper()
	rules, err := alert.ParseRules([]byte(testRules))
	if err != nil {
		t.Fatal(err)
	}
	s, err = alertd.New(context.Background(), c, alertd.Deps{
		Rules: rules, Registry: testRegistry(t), Publisher: pub, DataDir: dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	return s, func() { cancel(); <-done }
}

func tamper(s *alertd.Service, reg *registry.Registry, device string) {
	d, _ := reg.Device(device)
	p := point.Point{Measurement: "event", Fields: []point.Field{point.FloatField("count", 1)}, Time: time.Now()}
	p.SetTag("type", "tamper")
	s.Stored([]ingest.Stored{{Device: d, Points: []point.Point{p}}})
}

func expect(t *testing.T, pub *published, want ...string) {
	t.Helper()
	if got := strings.Join(pub.events(), "; "); got != strings.Join(want, "; ") {
		t.Fatalf("events\n got [%s]\nwant [%s]", got, strings.Join(want, "; "))
	}
}

// TestServiceRenotifiesAndClearsOnItsClock: on the service's own timers
// (a synctest bubble's clock), a critical tamper alert is announced at
// once and retained, announced again every 15 minutes while nobody
// acknowledges it, and cleared (its retained message too) 15 minutes after
// the last event; an acknowledgement stops the renotifying.
func TestServiceRenotifiesAndClearsOnItsClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pub := &published{}
		s, stop := start(t, t.TempDir(), pub)
		defer stop()
		reg := testRegistry(t)
		tamper(s, reg, "cam-1")
		synctest.Wait()
		expect(t, pub, "raised camera-tamper/cam-1")
		if !strings.Contains(pub.retained(contract.AlertTopic("camera-tamper/cam-1")), `"state":"active"`) {
			t.Fatal("the active alert is not retained")
		}
		time.Sleep(10 * time.Minute)
		tamper(s, reg, "cam-1") // the clear runs from the last event
		time.Sleep(5*time.Minute + time.Second)
		synctest.Wait()
		expect(t, pub, "raised camera-tamper/cam-1", "updated camera-tamper/cam-1", "renotified camera-tamper/cam-1")

		tamper(s, reg, "cam-2")
		synctest.Wait()
		s.Command([]byte(`{"id":"c1","op":"ack","alert":"camera-tamper/cam-2","by":"op","note":"đã báo"}`))
		s.Command([]byte(`{"id":"c2","op":"ack","alert":"camera-tamper/nope","by":"op"}`))
		synctest.Wait()
		res := pub.results()
		if len(res) != 2 || !res[0].OK || res[1].OK || res[1].Error == "" {
			t.Fatalf("command results %+v", res)
		}
		time.Sleep(15*time.Minute + time.Second)
		synctest.Wait()
		expect(t, pub, "raised camera-tamper/cam-1", "updated camera-tamper/cam-1", "renotified camera-tamper/cam-1",
			"raised camera-tamper/cam-2", "acked camera-tamper/cam-2",
			"resolved camera-tamper/cam-1", "resolved camera-tamper/cam-2")
		if got := pub.retained(contract.AlertTopic("camera-tamper/cam-1")); got != "" {
			t.Errorf("the resolved alert is still retained: %s", got)
		}
	})
}

// TestServiceRestoresAcrossRestart: what the service decided is in
// alerts.db: a new service over the same directory publishes the active
// alert again (retained) with its acknowledgement, and its clear timer runs
// from the last event, not from the restart.
func TestServiceRestoresAcrossRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		pub := &published{}
		s, stop := start(t, dir, pub)
		reg := testRegistry(t)
		tamper(s, reg, "cam-1")
		synctest.Wait()
		s.Command([]byte(`{"id":"c1","op":"ack","alert":"camera-tamper/cam-1","by":"op"}`))
		synctest.Wait()
		stop()

		time.Sleep(10 * time.Minute) // down for ten minutes
		pub2 := &published{}
		_, stop2 := start(t, dir, pub2)
		defer stop2()
		synctest.Wait()
		got := pub2.retained(contract.AlertTopic("camera-tamper/cam-1"))
		if !strings.Contains(got, `"state":"active"`) || !strings.Contains(got, `"ack":{"by":"op"`) {
			t.Fatalf("after the restart the alert is retained as %s", got)
		}
		time.Sleep(5*time.Minute + time.Second) // 15 minutes after the event
		synctest.Wait()
		expect(t, pub2, "resolved camera-tamper/cam-1")
	})
}

// TestServiceDispatchAndTargetsAcrossRestart: dispatch commands are applied
// in order (one out of order is refused with its reason), the dispatch is
// retained with the alert and comes back from alerts.db after a restart,
// and the response targets are missed on the service's clock, once each:
// the unacknowledged alert's acknowledgement at 5 minutes, the dispatched
// one's restore at 20 minutes, across the restart.
func TestServiceDispatchAndTargetsAcrossRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		cfg := alertd.Config{Renotify: time.Hour, Targets: map[alert.Severity]alert.Target{alert.Critical: {Acknowledge: 5 * time.Minute, Restore: 20 * time.Minute}}}
		pub := &published{}
		s, stop := startWith(t, dir, pub, cfg)
		reg := testRegistry(t)
		tamper(s, reg, "cam-1")
		tamper(s, reg, "cam-2")
		synctest.Wait()
		s.Command([]byte(`{"id":"c1","op":"assign","alert":"camera-tamper/cam-1","assignee":"team:d1","by":"op","note":"gấp"}`))
		s.Command([]byte(`{"id":"c2","op":"fixed","alert":"camera-tamper/cam-1","by":"kt"}`))
		s.Command([]byte(`{"id":"c3","op":"accept","alert":"camera-tamper/cam-1","by":"kt"}`))
		synctest.Wait()
		res := pub.results()
		if len(res) != 3 || !res[0].OK || res[1].OK || !strings.Contains(res[1].Error, "out of order") || !res[2].OK {
			t.Fatalf("command results %+v", res)
		}
		time.Sleep(5*time.Minute + time.Second)
		synctest.Wait()
		expect(t, pub, "raised camera-tamper/cam-1", "raised camera-tamper/cam-2", "acked camera-tamper/cam-1", "assigned camera-tamper/cam-1",
			"accepted camera-tamper/cam-1", "ack_overdue camera-tamper/cam-2")
		stop()

		time.Sleep(time.Minute)
		pub2 := &published{}
		s2, stop2 := startWith(t, dir, pub2, cfg)
		defer stop2()
		synctest.Wait()
		var a alert.Alert
		if err := json.Unmarshal([]byte(pub2.retained(contract.AlertTopic("camera-tamper/cam-1"))), &a); err != nil {
			t.Fatal(err)
		}
		if d := a.Dispatch; d == nil || d.Assignee != "team:d1" || d.Step != alert.StepAccepted || len(d.Steps) != 2 || d.Steps[0].Note != "gấp" || d.Steps[1].By != "kt" {
			t.Fatalf("after the restart the dispatch is %+v", a.Dispatch)
		}
		s2.Command([]byte(`{"id":"c4","op":"on_site","alert":"camera-tamper/cam-1","by":"kt"}`))
		for range 3 { // events at 11, 16 and 21 minutes keep cam-1's alert active past its restore target
			time.Sleep(5 * time.Minute)
			tamper(s2, reg, "cam-1")
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		expect(t, pub2, "on_site camera-tamper/cam-1", "updated camera-tamper/cam-1", "resolved camera-tamper/cam-2",
			"updated camera-tamper/cam-1", "restore_overdue camera-tamper/cam-1", "updated camera-tamper/cam-1") // due at 20m, between the events at 16m and 21m
	})
}
