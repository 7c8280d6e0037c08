package ingestd_test

import (
	"fmt"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// TestSharedGroupOneAlertOwner runs two ingest processes in one shared
// subscription group on Mosquitto: A owns alerting, B forwards what it
// stores to A. Every camera's tamper event raises its alert exactly once,
// whichever ingest took the message; devices kept alive through both stay
// online; a command is answered once.
func TestSharedGroupOneAlertOwner(t *testing.T) {
	if testing.Short() {
		t.Skip("two ingests and Mosquitto")
	}
	mq := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
	var ings []*running
	for i, forward := range []bool{false, true} {
		c := alertConfig(t)
		c.MQTT.Broker = mq.URL
		c.MQTT.ClientID = fmt.Sprintf("ingest-group-%d", i)
		c.MQTT.SharedGroup = "ingest"
		c.Alerts.Forward = forward
		ings = append(ings, startIngest(t, c, nil))
	}
	owner, forwarder := ings[0], ings[1]
	w := watchWall(t, mq.URL)
	clients := map[string]paho.Client{}
	for _, in := range []string{"vms-tn", "envsense"} {
		cl, err := dial(mq.URL, "group-gw-"+in, in, "demo-"+in)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Disconnect(0) })
		clients[in] = cl
	}
	hb := startHeartbeat(t, clients, "nvr-a", "cam-a1", "cam-a2", "cam-a3", "cam-b1", "cam-bvtw-01", "aq-1", "aq-2", "wl-1")
	cams := []string{"cam-a1", "cam-a2", "cam-a3", "cam-b1", "cam-bvtw-01"}
	for _, cam := range cams {
		publish(t, clients["vms-tn"], "ioc/v1/vms-tn/"+cam+"/event", []byte(`{"type":"tamper"}`))
	}
	for _, cam := range cams {
		w.event("raised", "camera-tamper/"+cam, 10*time.Second)
	}
	time.Sleep(4 * time.Second) // past every silence timeout, heartbeats split between the two
	hb.halt()
	for _, cam := range cams {
		if n := w.count("raised", "camera-tamper/"+cam); n != 1 {
			t.Errorf("camera-tamper/%s raised %d times, want once", cam, n)
		}
	}
	for _, d := range []string{"nvr-a", "cam-a1", "aq-1", "wl-1"} {
		if n := w.count("raised", "device-offline/"+d); n != 0 {
			t.Errorf("%s went offline while it reported through both ingests", d)
		}
	}
	took := metric(t, forwarder.HTTP, "ioc_ingest_messages_acked_total")
	if took < 5 {
		t.Fatalf("the forwarding ingest took %v messages: the group did not share the stream", took)
	}
	all := metric(t, owner.HTTP, "ioc_ingest_messages_acked_total") + took
	if seen := metric(t, owner.HTTP, "ioc_alert_messages_observed_total"); seen < all-1 {
		t.Errorf("the owner evaluated %v messages of the %v the group stored", seen, all)
	}
	w.command(contract.Command{ID: "group-ack", Op: "ack", Alert: "camera-tamper/cam-a1", By: "truc-ban"})
	if r := w.result("group-ack", 5*time.Second); r["ok"] != true {
		t.Fatalf("ack: %v", r)
	}
	time.Sleep(500 * time.Millisecond)
	w.mu.Lock()
	n := 0
	for _, r := range w.results {
		if r["id"] == "group-ack" {
			n++
		}
	}
	w.mu.Unlock()
	if n != 1 {
		t.Errorf("the ack was answered %d times, want once (one owner)", n)
	}
}
