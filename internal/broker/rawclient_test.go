package broker_test

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// rawConn is a minimal MQTT client over TCP that writes and reads single
// packets (mochi's codec), for what paho cannot do: MQTT 5, exact CONNACK
// codes, dropping the socket to fire a will.
type rawConn struct {
	c net.Conn
	r *bufio.Reader
	v byte
}

// connectParams describe one CONNECT.
type connectParams struct {
	v                    byte // 4 (3.1.1) or 5
	id, user, pass       string
	clean                bool
	willTopic, willBody  string
	willRetain           bool
	sessionExpirySeconds uint32
	keepalive            uint16 // seconds; 30 when zero
}

// rawConnect dials addr, sends the CONNECT and returns the connection and
// the CONNACK's reason code (0 accepted).
func rawConnect(t testing.TB, addr string, p connectParams) (*rawConn, byte) {
	t.Helper()
	rc, ack := rawConnack(t, addr, p)
	return rc, ack.ReasonCode
}

// rawConnack is rawConnect returning the whole CONNACK.
func rawConnack(t testing.TB, addr string, p connectParams) (*rawConn, packets.Packet) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc := &rawConn{c: c, r: bufio.NewReader(c), v: p.v}
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: p.v}
	pk.Connect = packets.ConnectParams{
		ProtocolName: []byte("MQTT"), ClientIdentifier: p.id, Clean: p.clean, Keepalive: cmp.Or(p.keepalive, 30),
		Username: []byte(p.user), UsernameFlag: p.user != "", Password: []byte(p.pass), PasswordFlag: p.pass != "",
	}
	if p.willTopic != "" {
		pk.Connect.WillFlag, pk.Connect.WillTopic, pk.Connect.WillPayload = true, p.willTopic, []byte(p.willBody)
		pk.Connect.WillQos, pk.Connect.WillRetain = 1, p.willRetain
	}
	if p.sessionExpirySeconds > 0 {
		pk.Properties.SessionExpiryInterval, pk.Properties.SessionExpiryIntervalFlag = p.sessionExpirySeconds, true
	}
	if err := rc.send(pk); err != nil {
		t.Fatal(err)
	}
	ack, err := rc.read(10 * time.Second)
	if err != nil {
		t.Fatalf("no CONNACK for %+v: %v", p, err)
	}
	if ack.FixedHeader.Type != packets.Connack {
		t.Fatalf("got packet type %d, want CONNACK", ack.FixedHeader.Type)
	}
	return rc, ack
}

func (rc *rawConn) send(pk packets.Packet) error {
	pk.ProtocolVersion = rc.v
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	case packets.Subscribe:
		err = pk.SubscribeEncode(&buf)
	case packets.Puback:
		err = pk.PubackEncode(&buf)
	case packets.Pubrel:
		err = pk.PubrelEncode(&buf)
	case packets.Disconnect:
		err = pk.DisconnectEncode(&buf)
	case packets.Pingreq:
		err = pk.PingreqEncode(&buf)
	default:
		return fmt.Errorf("rawConn cannot send packet type %d", pk.FixedHeader.Type)
	}
	if err != nil {
		return err
	}
	_, err = rc.c.Write(buf.Bytes())
	return err
}

// read returns the next packet, decoded where the tests need it.
func (rc *rawConn) read(timeout time.Duration) (packets.Packet, error) {
	rc.c.SetReadDeadline(time.Now().Add(timeout))
	defer rc.c.SetReadDeadline(time.Time{})
	var pk packets.Packet
	hb, err := rc.r.ReadByte()
	if err != nil {
		return pk, err
	}
	if err := pk.FixedHeader.Decode(hb); err != nil {
		return pk, err
	}
	n, _, err := packets.DecodeLength(rc.r)
	if err != nil {
		return pk, err
	}
	pk.FixedHeader.Remaining = n
	body := make([]byte, n)
	if _, err := io.ReadFull(rc.r, body); err != nil {
		return pk, err
	}
	pk.ProtocolVersion = rc.v
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Publish:
		err = pk.PublishDecode(body)
	case packets.Suback:
		err = pk.SubackDecode(body)
	case packets.Puback:
		err = pk.PubackDecode(body)
	case packets.Pubrec:
		err = pk.PubrecDecode(body)
	case packets.Pubcomp:
		err = pk.PubcompDecode(body)
	case packets.Disconnect:
		err = pk.DisconnectDecode(body)
	}
	return pk, err
}

// sync sends PINGREQ and returns the packets that arrive before the
// PINGRESP: the broker handles a connection's packets in order, so
// everything sent before has been handled by then.
func (rc *rawConn) sync(t testing.TB) []packets.Packet {
	t.Helper()
	if err := rc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}}); err != nil {
		t.Fatal(err)
	}
	var before []packets.Packet
	for {
		pk, err := rc.read(10 * time.Second)
		if err != nil {
			t.Fatalf("no PINGRESP: %v", err)
		}
		if pk.FixedHeader.Type == packets.Pingresp {
			return before
		}
		before = append(before, pk)
	}
}

// drop closes the socket without DISCONNECT: the broker sends the will.
func (rc *rawConn) drop() { rc.c.Close() }
