package broker_test

import (
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/broker"
	"github.com/ioc-vn/ioc/internal/testenv"
	"github.com/mochi-mqtt/server/v2/packets"
)

// TestQoS2DeviceMessageAckedOnceStored drives a device's QoS 2 publish
// under ioc/v1/ through the intake, MQTT 3.1.1 and 5: no PUBREC before
// ingest acknowledges (stores) the message, PUBREC after; resends with DUP
// before and after the PUBREC are not taken in again; PUBREL gets PUBCOMP.
func TestQoS2DeviceMessageAckedOnceStored(t *testing.T) {
	for _, v := range []byte{4, 5} {
		t.Run("v"+strconv.Itoa(int(v)), func(t *testing.T) {
			addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
			got := make(chan *broker.Message, 10)
			b, err := broker.New(broker.Config{Listen: addr, AllowAnonymous: true},
				broker.Deps{Log: slog.New(slog.DiscardHandler), IntakePrefix: "ioc/v1/", Intake: func(m *broker.Message) { got <- m }})
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })

			rc, code := rawConnect(t, addr, connectParams{v: v, id: "dev-q2", clean: true})
			if code != 0 {
				t.Fatalf("CONNACK %#x", code)
			}
			pub := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 2}, TopicName: "ioc/v1/acme/cam-01/telemetry",
				PacketID: 7, Payload: []byte(`{"fps":25}`)}
			if err := rc.send(pub); err != nil {
				t.Fatal(err)
			}
			m := <-got
			if m.Topic() != pub.TopicName || m.MessageID() != 7 {
				t.Fatalf("intake got %q id %d", m.Topic(), m.MessageID())
			}
			// A resend while ingest still holds the message is not taken in.
			dup := pub
			dup.FixedHeader.Dup = true
			if err := rc.send(dup); err != nil {
				t.Fatal(err)
			}
			if before := rc.sync(t); len(before) > 0 {
				t.Fatalf("got packet type %d before the message was stored, want nothing", before[0].FixedHeader.Type)
			}
			if len(got) > 0 {
				t.Fatal("the resend was taken in while ingest held the first")
			}
			m.Ack()
			pk, err := rc.read(5 * time.Second)
			if err != nil || pk.FixedHeader.Type != packets.Pubrec || pk.PacketID != 7 {
				t.Fatalf("after the store: packet type %d id %d (%v), want PUBREC (type %d) for id 7", pk.FixedHeader.Type, pk.PacketID, err, packets.Pubrec)
			}
			// A resend after PUBREC, before PUBREL, is answered with
			// PUBREC and not taken in.
			if err := rc.send(dup); err != nil {
				t.Fatal(err)
			}
			pk, err = rc.read(5 * time.Second)
			if err != nil || pk.FixedHeader.Type != packets.Pubrec || pk.PacketID != 7 {
				t.Fatalf("resend after PUBREC: packet type %d id %d (%v), want PUBREC", pk.FixedHeader.Type, pk.PacketID, err)
			}
			if err := rc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrel, Qos: 1}, PacketID: 7}); err != nil {
				t.Fatal(err)
			}
			pk, err = rc.read(5 * time.Second)
			if err != nil || pk.FixedHeader.Type != packets.Pubcomp || pk.PacketID != 7 || pk.ReasonCode != 0 {
				t.Fatalf("after PUBREL: packet type %d id %d reason %#x (%v), want PUBCOMP success", pk.FixedHeader.Type, pk.PacketID, pk.ReasonCode, err)
			}
			select {
			case m := <-got:
				t.Fatalf("the resend was taken in again: %q", m.Topic())
			default:
			}
		})
	}
}
