package ingestd_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// retainedOn reports whether the broker holds a non-empty retained message
// on topic, as a wall connecting now would see it: it subscribes to topic
// and to a marker topic, publishes the marker and reads until it returns.
func retainedOn(t *testing.T, url, topic string) bool {
	t.Helper()
	// A client id of its own each time: called in a loop, a reused id's
	// takeover could race the previous connection's DISCONNECT.
	id := "ghost-probe-" + strings.ReplaceAll(t.Name(), "/", "-") + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	c, err := dial(url, id, "ioc-server", "demo-ioc-server")
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Disconnect(0)
	marker := contract.ServerRoot + "sync/" + id
	found, done := make(chan bool, 16), make(chan struct{})
	tok := c.SubscribeMultiple(map[string]byte{topic: 1, marker: 1}, func(_ paho.Client, m paho.Message) {
		if m.Topic() == marker {
			close(done)
			return
		}
		found <- m.Retained() && len(m.Payload()) > 0
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	publish(t, c, marker, []byte("x"))
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the marker did not come back")
	}
	for {
		select {
		case r := <-found:
			if r {
				return true
			}
		default:
			return false
		}
	}
}

const ghostAlert = `{"id":"camera-tamper/cam-b1","rule":"camera-tamper","device":"cam-b1","severity":"critical","state":"active","message":{"vi":"ma","en":"ghost"}}`

// TestNoGhostAlertAfterEmbeddedBrokerRestore: the embedded broker restores
// its retained messages from disk when ingest starts; one the alert
// service does not hold (a save older than the last resolve, or a forged
// message) is cleared before any wall sees it as active.
func TestNoGhostAlertAfterEmbeddedBrokerRestore(t *testing.T) {
	c := alertConfig(t)
	topic := contract.AlertsPrefix + "camera-tamper/cam-b1"
	maint := contract.MaintenancePrefix + "district:d2"
	ing := startIngest(t, c, nil)
	srv, err := dial(ing.BrokerURL, "ghost-planter", "ioc-ingest", "demo-ioc-ingest")
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range []string{topic, maint} {
		if tok := srv.Publish(tp, 1, true, []byte(ghostAlert)); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	srv.Disconnect(0)
	if !retainedOn(t, ing.BrokerURL, topic) {
		t.Fatal("the broker did not keep the planted retained alert; the test proves nothing")
	}
	ing.stop()

	ing = startIngest(t, c, nil)
	testenv.Eventually(t, 10*time.Second, func() error {
		for _, tp := range []string{topic, maint} {
			if retainedOn(t, ing.BrokerURL, tp) {
				return fmt.Errorf("%s is still retained after the restart", tp)
			}
		}
		return nil
	})
	if n := metric(t, ing.HTTP, "ioc_alert_retained_cleared_total"); n != 2 {
		t.Errorf("ioc_alert_retained_cleared_total = %v, want 2", n)
	}
}

// TestNoGhostAlertAfterMosquittoLosesItsLastSave: Mosquitto restarted from
// a save taken while an alert was active, after the alert was resolved,
// brings the resolved alert back; ingest lists the retained alerts on
// reconnecting and clears it, while an alert that is still active stays.
func TestNoGhostAlertAfterMosquittoLosesItsLastSave(t *testing.T) {
	if testing.Short() {
		t.Skip("Mosquitto restarts")
	}
	mq := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
	c := alertConfig(t)
	c.MQTT.Broker = mq.URL
	startIngest(t, c, nil)
	w := watchWall(t, mq.URL)
	cam, err := dial(mq.URL, "ghost-gw", "vms-tn", "demo-vms-tn")
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Disconnect(0)
	for _, d := range []string{"cam-b1", "cam-bvtw-01"} {
		publish(t, cam, "ioc/v1/vms-tn/"+d+"/event", []byte(`{"type":"tamper"}`))
		w.event("raised", "camera-tamper/"+d, 10*time.Second)
	}
	gone, kept := contract.AlertsPrefix+"camera-tamper/cam-b1", contract.AlertsPrefix+"camera-tamper/cam-bvtw-01"

	// A save with both alerts active, as Mosquitto's autosave would have.
	mq.Stop()
	old, err := os.ReadFile(mq.SaveFile)
	if err != nil {
		t.Fatal(err)
	}
	mq.Start()
	w = watchWall(t, mq.URL) // the first one's connection ended with the broker
	w.command(contract.Command{ID: "ghost-resolve", Op: "resolve", Alert: "camera-tamper/cam-b1", By: "truc-ban", Note: "đã xử lý"})
	if r := w.result("ghost-resolve", 15*time.Second); r["ok"] != true {
		t.Fatalf("resolve: %v", r)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if retainedOn(t, mq.URL, gone) {
			return fmt.Errorf("%s still retained after its resolve", gone)
		}
		return nil
	})
	// The broker crashes and comes back from the older save.
	mq.Stop()
	if err := os.WriteFile(mq.SaveFile, old, 0o600); err != nil {
		t.Fatal(err)
	}
	mq.Start()
	testenv.Eventually(t, 20*time.Second, func() error {
		if retainedOn(t, mq.URL, gone) {
			return fmt.Errorf("the resolved alert %s came back as a ghost", gone)
		}
		return nil
	})
	if !retainedOn(t, mq.URL, kept) {
		t.Errorf("the active alert %s was cleared too", kept)
	}
}
