package ingestd_test

import (
	"encoding/json"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/contract"
)

// TestWillCannotCommandAlerts reproduces the review's F1 attack end to
// end: envsense connects with a last will of maintenance_start on the
// commands topic and drops its connection. The broker refuses that
// CONNECT, so the alert service never sees the command; a server
// account's command, sent after it, is applied.
func TestWillCannotCommandAlerts(t *testing.T) {
	c := alertConfig(t)
	ing := startIngest(t, c, nil)
	w := watchWall(t, ing.BrokerURL)
	evil, _ := json.Marshal(contract.Command{ID: "evil", Op: "maintenance_start", Target: "district:d2", By: "attacker"})
	forged, _ := json.Marshal(map[string]any{"id": "forged-rule/aq-1", "rule": "forged-rule", "device": "aq-1", "state": "active", "message": map[string]string{"en": "EVACUATE NOW"}})
	for _, will := range []struct {
		topic  string
		body   []byte
		retain bool
	}{{contract.CommandsTopic, evil, false}, {contract.AlertsPrefix + "forged-rule/aq-1", forged, true}} {
		var conn net.Conn
		o := paho.NewClientOptions().AddBroker(ing.BrokerURL).SetClientID("attacker").SetUsername("envsense").SetPassword("demo-envsense").
			SetAutoReconnect(false).SetConnectTimeout(5*time.Second).SetBinaryWill(will.topic, will.body, 1, will.retain).
			SetCustomOpenConnectionFn(func(_ *url.URL, _ paho.ClientOptions) (net.Conn, error) {
				var err error
				conn, err = net.Dial("tcp", strings.TrimPrefix(ing.BrokerURL, "tcp://"))
				return conn, err
			})
		cl := paho.NewClient(o)
		tok := cl.Connect()
		if tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
			conn.Close() // drop without DISCONNECT: the broker sends the will
			t.Errorf("envsense connected with a will on %s", will.topic)
		}
	}
	w.command(contract.Command{ID: "legit", Op: "maintenance_start", Target: "district:d1", By: "van-hanh-1"})
	if r := w.result("legit", 5*time.Second); r["ok"] != true {
		t.Fatalf("%v", r)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.results {
		if r["id"] == "evil" {
			t.Errorf("the will's command was applied: %v", r)
		}
	}
	if a, ok := w.alerts["forged-rule/aq-1"]; ok {
		t.Errorf("forged alert on the wall: %+v", a)
	}
}
