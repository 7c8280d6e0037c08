package broker_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// TestPersistentErrorsSubscriptionResumes (integrator review: "a
// reconnecting persistent _errors subscriber is told SUBACK 0x91"): an
// integrator subscribed to its _errors topic with a persistent session
// goes offline, reports are queued for it, and it comes back and
// subscribes again, as mosquitto_sub -c and most clients do. The broker's
// own queued PUBLISH ids are not the client's packet ids: the SUBSCRIBE
// is granted (not "packet identifier in use"), the queued reports arrive,
// and once acknowledged they are not sent again.
func TestPersistentErrorsSubscriptionResumes(t *testing.T) {
	s := startSecure(t, secureOptions{})
	const topic = "ioc/v1/envsense/_errors"
	first, err := pahoDial(s.url, "envsense-errors", "envsense", false)
	if err != nil {
		t.Fatal(err)
	}
	if tok := first.Subscribe(topic, 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	first.Disconnect(100)
	testenv.Eventually(t, 5*time.Second, func() error {
		if s.b.HasSession("envsense-errors") && !s.b.Connected("envsense-errors") {
			return nil
		}
		return errors.New("the session is not kept offline yet")
	})
	for _, r := range []string{"report 1", "report 2", "report 3"} {
		if err := s.b.Publish(topic, 1, false, []byte(r)); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	var got []paho.Message
	arrived := make(chan struct{}, 10)
	// Acknowledged only when the test says, so the queued reports are
	// still in flight, under the broker's packet ids 1-3, when the
	// client's SUBSCRIBE (its own id 1) arrives.
	again, err := pahoDial(s.url, "envsense-errors", "envsense", false, func(o *paho.ClientOptions) {
		o.SetAutoAckDisabled(true).SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			mu.Lock()
			got = append(got, m)
			mu.Unlock()
			arrived <- struct{}{}
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Disconnect(100)
	for range 3 {
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatalf("the queued reports did not all arrive (%d)", len(got))
		}
	}
	tok := again.Subscribe(topic, 1, nil)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribing again: %v", tok.Error())
	}
	if q := tok.(*paho.SubscribeToken).Result()[topic]; q != 1 {
		t.Fatalf("subscribing again was answered %#x, want QoS 1 granted", q)
	}
	mu.Lock()
	for _, m := range got {
		m.Ack()
	}
	mu.Unlock()
	testenv.Eventually(t, 5*time.Second, func() error {
		if n := s.b.Inflight("envsense-errors"); n != 0 {
			return errors.New("reports still in flight after their PUBACKs")
		}
		return nil
	})
	if err := s.b.Publish(topic, 1, false, []byte("report 4")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("a report after resuming did not arrive")
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"report 1", "report 2", "report 3", "report 4"}
	if len(got) != len(want) {
		t.Fatalf("received %d reports, want %d", len(got), len(want))
	}
	for i, m := range got {
		if string(m.Payload()) != want[i] {
			t.Errorf("report %d: %q, want %q", i, m.Payload(), want[i])
		}
	}
}
