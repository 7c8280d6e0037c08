package broker_test

import (
	"testing"

	"github.com/ioc-vn/ioc/internal/broker"
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
