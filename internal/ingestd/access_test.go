package ingestd_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/ingest"
	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/store"
	"github.com/ioc-vn/ioc/internal/store/embedded"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// dial connects with credentials and reports the connection error, if any.
func dial(url, id, user, pass string) (paho.Client, error) {
	o := paho.NewClientOptions().AddBroker(url).SetClientID(id).SetUsername(user).SetPassword(pass).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, errors.New("connect timed out")
	}
	return c, tok.Error()
}

// TestEmbeddedBrokerAccess runs ingest's embedded broker with the shipped
// credentials file and tries what each account must and must not do.
func TestEmbeddedBrokerAccess(t *testing.T) {
	c := testConfig(t)
	c.Broker.AllowAnonymous = false
	c.Credentials = "../../configs/credentials.yaml"
	ing := startIngest(t, c, nil)
	url := ing.BrokerURL

	refused := func(id, user, pass, why string) {
		t.Helper()
		if cl, err := dial(url, id, user, pass); err == nil {
			cl.Disconnect(0)
			t.Errorf("connect as %q/%q (%s) succeeded; want refused", id, user, why)
		}
	}
	refused("anon", "", "", "anonymous")
	refused("x", "vms-tn", "wrong", "wrong password")
	refused("x", "nobody", "demo-nobody", "unknown user")
	refused("a/b", "vms-tn", "demo-vms-tn", "client id with /")
	refused("a+b", "vms-tn", "demo-vms-tn", "client id with +")
	refused("a#", "vms-tn", "demo-vms-tn", "client id with #")

	vms, err := dial(url, "vms-gateway", "vms-tn", "demo-vms-tn")
	if err != nil {
		t.Fatalf("vms-tn with its password: %v", err)
	}
	defer vms.Disconnect(0)
	reports := make(chan ingest.Report, 10)
	if tok := vms.Subscribe("ioc/v1/vms-tn/_errors", 1, func(_ paho.Client, m paho.Message) {
		var r ingest.Report
		if jsonErr := json.Unmarshal(m.Payload(), &r); jsonErr == nil {
			reports <- r
		}
	}); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil || suback(tok) != 1 {
		t.Fatalf("vms-tn may subscribe to its own errors: %v %v", tok.Error(), suback(tok))
	}
	// Nothing of another integrator's, and nothing of the server topic tree.
	refusedSubs := []string{"ioc/v1/envsense/_errors", "ioc/v1/+/_errors", "ioc/v1/#", "#", "ioc/v1/envsense/aq-tp-01/telemetry",
		"ioc/server/#", "ioc/+/v1/#", "$share/g/ioc/server/v1/#"}
	refusedSubs = append(refusedSubs, serverTopics...)
	for _, f := range refusedSubs {
		tok := vms.Subscribe(f, 1, nil)
		tok.WaitTimeout(5 * time.Second)
		if suback(tok) != 0x80 {
			t.Errorf("vms-tn subscribe %q: granted %#x, want refused (0x80)", f, suback(tok))
		}
	}
	// Its own camera: stored. A topic of its own that names another
	// integrator's device passes the broker and is refused by ingest.
	publish(t, vms, "ioc/v1/vms-tn/cam-bvtw-03/status", []byte(`{"state":"online","fps":25}`))
	publish(t, vms, "ioc/v1/vms-tn/aq-tp-01/telemetry", []byte(`{"pm25": 1}`))
	select {
	case r := <-reports:
		if r.Reason != payload.ReasonForeignDevice {
			t.Errorf("report %+v, want foreign_device", r)
		}
	case <-time.After(10 * time.Second):
		t.Error("no foreign_device report on vms-tn's errors topic")
	}

	st, err := embedded.Open(context.Background(), c.StorePath())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stored := func(device string) int {
		pts, err := st.Query(context.Background(), store.Query{Device: device, From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return len(pts)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if stored("cam-bvtw-03") != 1 {
			return errors.New("cam-bvtw-03's status not stored")
		}
		return nil
	})

	// Forbidden publishes: the broker refuses them (an MQTT 3.1.1 client
	// is disconnected) and nothing is stored.
	forbidden := []struct{ user, topic string }{
		{"vms-tn", "ioc/v1/envsense/aq-tp-01/telemetry"},
		{"vms-tn", "ioc/v1/vms-tn/_errors"},
		{"cam-bvtw-01", "ioc/v1/vms-tn/cam-bvtw-02/status"},
		{"cam-bvtw-01", "ioc/v1/envsense/aq-tp-01/telemetry"},
		// Least privilege between the server processes: the web server's
		// account sends no device data, ingest's no operator commands.
		{"ioc-server", "ioc/v1/vms-tn/cam-bvtw-02/status"},
		{"ioc-server", "ioc/v1/envsense/aq-tp-01/telemetry"},
		{"ioc-server", "ioc/v1/vms-tn/_errors"},
		{"ioc-server", contract.AlertsPrefix + "device-offline/cam-bvtw-01"},
		{"ioc-ingest", contract.CommandsTopic},
		{"ioc-ingest", "ioc/v1/envsense/aq-tp-01/telemetry"},
	}
	for _, topic := range serverTopics {
		forbidden = append(forbidden, struct{ user, topic string }{"vms-tn", topic}, struct{ user, topic string }{"cam-bvtw-01", topic})
	}
	for i, f := range forbidden {
		cl, err := dial(url, fmt.Sprintf("forbidden-%d", i), f.user, "demo-"+f.user)
		if err != nil {
			t.Fatalf("%s: %v", f.user, err)
		}
		cl.Publish(f.topic, 1, false, `{"state":"offline","pm25":999}`).WaitTimeout(2 * time.Second)
		testenv.Eventually(t, 5*time.Second, func() error {
			if cl.IsConnected() {
				return fmt.Errorf("%s still connected after publishing to %s", f.user, f.topic)
			}
			return nil
		})
	}
	// The broker checks a publish before anything else sees it and, at
	// MQTT 3.1.1, disconnects the client instead: once disconnected, the
	// publish was refused, not queued, so nothing can be stored later.
	for _, d := range []string{"aq-tp-01", "cam-bvtw-02"} {
		if n := stored(d); n != 0 {
			t.Errorf("%d points stored for %s from forbidden publishes", n, d)
		}
	}
	// The device account may publish its own topics.
	cam, err := dial(url, "cam-bvtw-01", "cam-bvtw-01", "demo-cam-bvtw-01")
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Disconnect(0)
	publish(t, cam, "ioc/v1/vms-tn/cam-bvtw-01/status", []byte(`{"state":"online"}`))
	testenv.Eventually(t, 10*time.Second, func() error {
		if stored("cam-bvtw-01") != 1 {
			return errors.New("cam-bvtw-01's own status not stored")
		}
		return nil
	})
	if got := metric(t, ing.HTTP, `ioc_broker_refused_total{reason="publish"}`); got < float64(len(forbidden)) {
		t.Errorf("refused publishes metric %v, want >= %d", got, len(forbidden))
	}
}

// serverTopics is one topic of each kind in the server tree (docs/ALERTS.md
// "Server topics"): only the ingest and web accounts may use them.
var serverTopics = []string{
	contract.AlertsPrefix + "device-offline/cam-bvtw-01",
	contract.DevicesPrefix + "cam-bvtw-01",
	contract.MaintenancePrefix + "device:cam-bvtw-01",
	contract.EventsTopic,
	contract.CommandsTopic,
	contract.ResultsTopic,
}

func suback(tok paho.Token) byte {
	st, ok := tok.(*paho.SubscribeToken)
	if !ok {
		return 0xff
	}
	for _, code := range st.Result() {
		return code
	}
	return 0xff
}

// TestEmbeddedBrokerKeepsRetainedAcrossRestart: a retained message on a
// server topic (published by a server account) is still there for a new
// subscriber after ingest, and its broker, restarted on the same data dir.
func TestEmbeddedBrokerKeepsRetainedAcrossRestart(t *testing.T) {
	c := testConfig(t)
	c.Broker.AllowAnonymous = false
	ing := startIngest(t, c, nil)
	srv, err := dial(ing.BrokerURL, "ioc-1", "ioc-ingest", "demo-ioc-ingest")
	if err != nil {
		t.Fatal(err)
	}
	if tok := srv.Publish(contract.DevicesPrefix+"test-retained", 1, true, "kept"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	srv.Disconnect(100)
	ing.stop()

	ing = startIngest(t, c, nil)
	got := make(chan string, 1)
	sub, err := dial(ing.BrokerURL, "ioc-2", "ioc-server", "demo-ioc-server")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Disconnect(0)
	sub.Subscribe(contract.DevicesPrefix+"test-retained", 1, func(_ paho.Client, m paho.Message) { got <- string(m.Payload()) }).WaitTimeout(5 * time.Second)
	select {
	case v := <-got:
		if v != "kept" {
			t.Fatalf("retained %q", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the retained message did not survive the restart")
	}
}
