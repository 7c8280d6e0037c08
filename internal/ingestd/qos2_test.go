package ingestd_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/loadgen"
	"github.com/ioc-vn/ioc/internal/testenv"
	"github.com/mochi-mqtt/server/v2/packets"
)

// mqttConn is a bare MQTT 3.1.1 client (mochi's codec) for what paho does
// not expose: the moment the PUBREC arrives, and a PUBREL sent by hand
// after a restart.
type mqttConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialMQTT(t *testing.T, addr, id string) *mqttConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	m := &mqttConn{t: t, c: c, r: bufio.NewReader(c)}
	m.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, Connect: packets.ConnectParams{
		ProtocolName: []byte("MQTT"), ClientIdentifier: id, Keepalive: 30}}) // clean session off
	if ack := m.read(); ack.FixedHeader.Type != packets.Connack || ack.ReasonCode != 0 {
		t.Fatalf("CONNACK: type %d code %#x", ack.FixedHeader.Type, ack.ReasonCode)
	}
	return m
}

func (m *mqttConn) send(pk packets.Packet) {
	m.t.Helper()
	pk.ProtocolVersion = 4
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	case packets.Pubrel:
		err = pk.PubrelEncode(&buf)
	}
	if err == nil {
		_, err = m.c.Write(buf.Bytes())
	}
	if err != nil {
		m.t.Fatal(err)
	}
}

func (m *mqttConn) read() packets.Packet {
	m.t.Helper()
	m.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var pk packets.Packet
	hb, err := m.r.ReadByte()
	if err == nil {
		err = pk.FixedHeader.Decode(hb)
	}
	var n int
	if err == nil {
		n, _, err = packets.DecodeLength(m.r)
	}
	body := make([]byte, n)
	if err == nil {
		_, err = io.ReadFull(m.r, body)
	}
	if err != nil {
		m.t.Fatalf("read: %v", err)
	}
	pk.ProtocolVersion = 4
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Pubrec, packets.Pubcomp, packets.Puback:
		err = pk.PubackDecode(body) // same layout
	}
	if err != nil {
		m.t.Fatal(err)
	}
	return pk
}

// TestQoS2ThroughIngestSurvivesSIGKILL is the default setup (ingest runs
// the broker) with QoS 2: mosquitto_pub -q 2 completes (exit 0), and a
// device whose publish got its PUBREC (so it is stored) sees ingest killed
// before its PUBREL; after the restart it resends the PUBREL on its
// persistent session and gets PUBCOMP, and each message is stored once.
func TestQoS2ThroughIngestSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test")
	}
	in := testenv.StartInflux(t)
	brokerAddr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	p := newProc(t, "IOC_BROKER_LISTEN="+brokerAddr, "IOC_BROKER_ALLOW_ANONYMOUS=true", "IOC_INFLUX_URL="+in.URL, "IOC_INFLUX_DATABASE="+in.DB,
		"IOC_REGISTRY="+writeRegistry(t, 2), "IOC_MQTT_CLIENT_ID=ingest-qos2")
	p.start()

	topic, body := loadgen.Message(1, 2, time.Now().Add(-time.Hour), true)
	host, port, _ := net.SplitHostPort(brokerAddr)
	if out, err := exec.Command("mosquitto_pub", "-h", host, "-p", port, "-V", "mqttv311", "-i", "q2-shell", "-q", "2",
		"-t", topic, "-m", string(body)).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub -q 2: %v\n%s", err, out)
	}

	topic, body = loadgen.Message(0, 2, time.Now().Add(-time.Hour), true) // no ts: the stamp journal keeps its time
	dev := dialMQTT(t, brokerAddr, "q2-device")
	dev.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 2}, TopicName: topic, PacketID: 42, Payload: body})
	if pk := dev.read(); pk.FixedHeader.Type != packets.Pubrec || pk.PacketID != 42 {
		t.Fatalf("got packet type %d id %d, want PUBREC for 42", pk.FixedHeader.Type, pk.PacketID)
	}
	p.kill()
	p.start()

	dev = dialMQTT(t, brokerAddr, "q2-device")
	dev.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrel, Qos: 1}, PacketID: 42})
	for {
		pk := dev.read()
		if pk.FixedHeader.Type == packets.Pubcomp && pk.PacketID == 42 {
			break
		}
		if pk.FixedHeader.Type != packets.Pubrec { // the restored session may repeat its PUBREC
			t.Fatalf("got packet type %d id %d, want PUBCOMP for 42", pk.FixedHeader.Type, pk.PacketID)
		}
	}
	waitExactly(t, in, 2, 60*time.Second)
}
