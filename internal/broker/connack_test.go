package broker_test

import (
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/broker"
	"github.com/mochi-mqtt/server/v2/packets"
)

// TestConnackSaysWhatIsRestricted: an MQTT 5 CONNACK carries the broker's
// Maximum Packet Size and no Maximum QoS (QoS 2 is served), and a refused
// client id is answered 0x85 with the rule as reason string (3.1.1: 2).
func TestConnackSaysWhatIsRestricted(t *testing.T) {
	b := startTestBroker(t, broker.Config{MaxPacketBytes: 64 << 10}, nil, testPolicy(t))
	_, ack := rawConnack(t, b.addr, connectParams{v: 5, id: "acme-ok", user: "acme", pass: "pw-acme", clean: true})
	if ack.ReasonCode != 0 {
		t.Fatalf("CONNACK %#x", ack.ReasonCode)
	}
	if got := ack.Properties.MaximumPacketSize; got != 64<<10 {
		t.Errorf("Maximum Packet Size %d, want %d", got, 64<<10)
	}
	if ack.Properties.MaximumQosFlag {
		t.Errorf("Maximum QoS %d advertised, want none (QoS 2 served)", ack.Properties.MaximumQos)
	}

	_, ack = rawConnack(t, b.addr, connectParams{v: 5, id: "gw 1", user: "acme", pass: "pw-acme", clean: true})
	if ack.ReasonCode != 0x85 || ack.Properties.ReasonString != broker.ClientIDRule {
		t.Errorf("client id with a space: CONNACK %#x %q, want 0x85 %q", ack.ReasonCode, ack.Properties.ReasonString, broker.ClientIDRule)
	}
	if _, code := rawConnect(t, b.addr, connectParams{v: 4, id: "gw 1", user: "acme", pass: "pw-acme", clean: true}); code != 2 {
		t.Errorf("3.1.1 client id with a space: return code %d, want 2", code)
	}
}

// TestReasonStringsSayWhatToChange (integrator review: "connection-level
// errors are opaque"): an MQTT 5 client is told, in the reason string,
// which topic it may not publish to (PUBACK 0x87, and the connection
// stays), and which will topic was refused (CONNACK 0x87).
func TestReasonStringsSayWhatToChange(t *testing.T) {
	b := startTestBroker(t, broker.Config{MaxPacketBytes: 4 << 10}, nil, testPolicy(t))
	rc, code := rawConnect(t, b.addr, connectParams{v: 5, id: "acme-gw", user: "acme", pass: "pw-acme", clean: true})
	if code != 0 {
		t.Fatalf("CONNACK %#x", code)
	}
	if err := rc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, TopicName: "ioc/v1/other/cam-9/status", PacketID: 7, Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	ack, err := rc.read(10 * time.Second)
	if err != nil || ack.FixedHeader.Type != packets.Puback || ack.ReasonCode != 0x87 ||
		ack.Properties.ReasonString != `not authorised: account "acme" may not publish to "ioc/v1/other/cam-9/status"` {
		t.Errorf("publish outside the account: %+v %v", ack, err)
	}
	// The connection stays.
	if err := rc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, TopicName: "ioc/v1/acme/cam-01/telemetry", PacketID: 8, Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if ack, err := rc.read(10 * time.Second); err != nil || ack.FixedHeader.Type != packets.Puback || ack.ReasonCode != 0 {
		t.Errorf("publish to its own device after a refusal: %+v %v", ack.ReasonCode, err)
	}

	_, ack = rawConnack(t, b.addr, connectParams{v: 5, id: "acme-will", user: "acme", pass: "pw-acme", clean: true,
		willTopic: "ioc/server/v1/commands", willBody: "{}"})
	if ack.ReasonCode != 0x87 || ack.Properties.ReasonString != `not authorised: account "acme" may not publish its last will to "ioc/server/v1/commands"` {
		t.Errorf("will outside the account: CONNACK %#x %q", ack.ReasonCode, ack.Properties.ReasonString)
	}
}
