package broker_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/access"
	"github.com/ioc-vn/ioc/internal/broker"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/testenv"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"
)

// testPolicy has an integrator "acme" (password "pw-acme") with one device.
func testPolicy(t *testing.T) *access.Policy {
	t.Helper()
	reg, err := registry.New(registry.File{
		Districts:   []registry.District{{ID: "d1", Name: "D1"}},
		Integrators: []registry.Integrator{{ID: "acme", Name: "A"}},
		Devices:     []registry.Device{{ID: "cam-01", Kind: registry.Camera, Name: "C1", District: "d1", Integrator: "acme"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := access.Hash("pw-acme", 1000)
	if err != nil {
		t.Fatal(err)
	}
	p, err := access.New(access.File{Accounts: []access.Account{{Username: "acme", PasswordHash: h, Role: access.RoleIntegrator, Integrator: "acme"}}}, reg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type testBroker struct {
	*broker.Broker
	addr    string
	metrics *prometheus.Registry
}

func startTestBroker(t *testing.T, c broker.Config, log *slog.Logger, policy *access.Policy) *testBroker {
	t.Helper()
	if c.Listen == "" {
		c.Listen = "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	b, err := broker.New(c, broker.Deps{Log: log, Metrics: reg, IntakePrefix: "ioc/v1/", Access: policy,
		Intake: func(m *broker.Message) { m.Ack() }})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return &testBroker{Broker: b, addr: c.Listen, metrics: reg}
}

// counter reads a counter of the broker's registry, 0 if absent.
func (b *testBroker) counter(t *testing.T, name, reason string) float64 {
	t.Helper()
	mfs, err := b.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := reason == ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					match = true
				}
			}
			if match {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// dialFrom opens a raw TCP socket to addr from the loopback address from.
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer waits (at most within) for the server to close c: a read
// that returns EOF or a reset, not the test's own deadline.
func closedByServer(c net.Conn, within time.Duration) error {
	_ = c.SetReadDeadline(time.Now().Add(within))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	switch {
	case err == nil:
		return errors.New("the server sent data instead of closing")
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("still open after %s", within)
	}
	return nil // io.EOF or connection reset
}

func pahoConnect(addr, from, user, pass, id string) error {
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetUsername(user).SetPassword(pass).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).
		SetDialer(&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second})
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return errors.New("connect timed out")
	}
	if tok.Error() == nil {
		c.Disconnect(0)
	}
	return tok.Error()
}

// TestSocketWithoutConnectIsClosed: a socket that sends nothing is closed
// once the connect timeout passes, and counted.
func TestSocketWithoutConnectIsClosed(t *testing.T) {
	b := startTestBroker(t, broker.Config{ConnectTimeout: 200 * time.Millisecond}, nil, testPolicy(t))
	idle := dialFrom(t, "127.0.0.1", b.addr)
	if err := closedByServer(idle, 10*time.Second); err != nil {
		t.Fatalf("a socket that never sent CONNECT: %v", err)
	}
	testenv.Eventually(t, 5*time.Second, func() error {
		if n := b.counter(t, "ioc_broker_refused_total", "connect_timeout"); n != 1 {
			return fmt.Errorf("connect_timeout counted %v times", n)
		}
		if n := b.PendingConnections(); n != 0 {
			return fmt.Errorf("%d sockets still pending", n)
		}
		return nil
	})
	// A client that connects in time is not cut off by the connect
	// timeout: its keep-alive applies from then on.
	if err := pahoConnect(b.addr, "127.0.0.1", "acme", "pw-acme", "acme-1"); err != nil {
		t.Fatalf("a prompt client: %v", err)
	}
}

// TestPendingSocketsCappedPerAddress: past the cap, another socket from the
// same address is closed at once, while other addresses and real clients
// (once the address is under the cap) are served.
func TestPendingSocketsCappedPerAddress(t *testing.T) {
	const maxPending = 4
	b := startTestBroker(t, broker.Config{ConnectTimeout: time.Minute, MaxPendingPerAddress: maxPending}, nil, testPolicy(t))
	var held []net.Conn
	for range maxPending {
		held = append(held, dialFrom(t, "127.0.0.1", b.addr))
	}
	testenv.Eventually(t, 5*time.Second, func() error {
		if n := b.PendingConnections(); n != maxPending {
			return fmt.Errorf("%d pending, want %d", n, maxPending)
		}
		return nil
	})
	extra := dialFrom(t, "127.0.0.1", b.addr)
	if err := closedByServer(extra, 10*time.Second); err != nil {
		t.Fatalf("socket %d from one address: %v", maxPending+1, err)
	}
	if n := b.counter(t, "ioc_broker_refused_total", "pending_per_address"); n != 1 {
		t.Fatalf("pending_per_address counted %v times, want 1", n)
	}
	// Another address is not affected.
	if err := pahoConnect(b.addr, "127.0.0.2", "acme", "pw-acme", "acme-2"); err != nil {
		t.Fatalf("a client from 127.0.0.2 while 127.0.0.1 is at its cap: %v", err)
	}
	// The held sockets are still open: they are within the cap and the
	// connect timeout.
	for i, c := range held {
		_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); !isTimeout(err) {
			t.Fatalf("held socket %d: %v; want it still open", i, err)
		}
	}
	for _, c := range held {
		c.Close()
	}
	testenv.Eventually(t, 5*time.Second, func() error {
		if n := b.PendingConnections(); n != 0 {
			return fmt.Errorf("%d pending after closing them", n)
		}
		return nil
	})
	if err := pahoConnect(b.addr, "127.0.0.1", "acme", "pw-acme", "acme-3"); err != nil {
		t.Fatalf("a client from 127.0.0.1 once under the cap: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// syncBuffer is a log destination safe for the broker's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

func encodeConnect(t *testing.T, user, pass, id string) []byte {
	t.Helper()
	var buf bytes.Buffer
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4, Connect: packets.ConnectParams{
		ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 30, ClientIdentifier: id,
		UsernameFlag: true, Username: []byte(user), PasswordFlag: true, Password: []byte(pass),
	}}
	if err := pk.ConnectEncode(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodePublish(t *testing.T, topic string, qos byte, id uint16, payload []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos}, ProtocolVersion: 4, TopicName: topic, PacketID: id, Payload: payload}
	if err := pk.PublishEncode(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readConnack reads the 4-byte CONNACK of MQTT 3.1.1 and returns its code.
func readConnack(t *testing.T, c net.Conn) byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 4)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("reading CONNACK: %v", err)
	}
	if b[0] != 0x20 {
		t.Fatalf("got packet type %#x, want CONNACK", b[0])
	}
	return b[3]
}

// TestLogBoundedAndWithoutSecrets: an MQTT 3.1.1 client that publishes
// 1 MiB to a topic it may not use, five times over, adds a bounded amount
// of log; a second CONNECT on one connection logs no password bytes.
func TestLogBoundedAndWithoutSecrets(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	b := startTestBroker(t, broker.Config{}, log, testPolicy(t))
	before := logs.Len()

	big := bytes.Repeat([]byte{'7'}, 1<<20-64) // within the packet limit
	for i := range 5 {
		c := dialFrom(t, "127.0.0.1", b.addr)
		if _, err := c.Write(encodeConnect(t, "acme", "pw-acme", "acme-flood")); err != nil {
			t.Fatal(err)
		}
		if code := readConnack(t, c); code != 0 {
			t.Fatalf("CONNACK %d", code)
		}
		if _, err := c.Write(encodePublish(t, "ioc/server/v1/commands", 1, uint16(i+1), big)); err != nil {
			t.Fatal(err)
		}
		// The refusal: a PUBACK, or the connection closed.
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); isTimeout(err) {
			t.Fatalf("publish %d to a forbidden topic: no answer", i)
		}
		c.Close()
	}
	// mochi logs each refusal after closing the connection: wait for the
	// five lines.
	testenv.Eventually(t, 10*time.Second, func() error {
		if n := strings.Count(logs.String(), "error processing packet"); n < 5 {
			return fmt.Errorf("%d of 5 refusals logged", n)
		}
		return nil
	})
	if grown := logs.Len() - before; grown > 32<<10 {
		t.Fatalf("five refused 1 MiB publishes added %d bytes of log; want under 32 KiB", grown)
	}

	const secret = "SECRET-PW-2nd-connect"
	c := dialFrom(t, "127.0.0.1", b.addr)
	if _, err := c.Write(encodeConnect(t, "acme", "pw-acme", "acme-twice")); err != nil {
		t.Fatal(err)
	}
	if code := readConnack(t, c); code != 0 {
		t.Fatalf("CONNACK %d", code)
	}
	if _, err := c.Write(encodeConnect(t, "acme", secret, "acme-twice")); err != nil {
		t.Fatal(err)
	}
	if err := closedByServer(c, 10*time.Second); err != nil {
		t.Fatalf("a second CONNECT: %v", err)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if !strings.Contains(logs.String(), "client=acme-twice") {
			return errors.New("the second CONNECT is not logged yet")
		}
		return nil
	})
	out := logs.String()
	var dec []string
	for _, ch := range []byte(secret) {
		dec = append(dec, strconv.Itoa(int(ch)))
	}
	for _, form := range []string{secret, strings.Join(dec, " "), "pw-acme"} {
		if strings.Contains(out, form) {
			t.Errorf("the log holds the password as %q", form)
		}
	}
}

// connackFor sends one MQTT 3.1.1 CONNECT from the loopback address from and
// returns the CONNACK's return code.
func connackFor(t *testing.T, from, addr, user, pass, id string) byte {
	t.Helper()
	c := dialFrom(t, from, addr)
	defer c.Close()
	if _, err := c.Write(encodeConnect(t, user, pass, id)); err != nil {
		t.Fatal(err)
	}
	return readConnack(t, c)
}

// TestPasswordGuessingLimited: wrong passwords from one address are soon
// refused without being checked (MQTT 3.1.1 return code 3, server
// unavailable), while the same account from another address still
// connects.
func TestPasswordGuessingLimited(t *testing.T) {
	b := startTestBroker(t, broker.Config{}, nil, testPolicy(t))
	codes := map[byte]int{}
	for i := range 30 {
		codes[connackFor(t, "127.0.0.1", b.addr, "acme", "guess-"+strconv.Itoa(i), "guesser")]++
	}
	// The first few are checked (5: not authorised), the rest
	// refused unchecked (3).
	if codes[5] == 0 || codes[5] > access.DefaultLimiterOptions.FreeFailures+1 || codes[3] < 25 {
		t.Fatalf("return codes for 30 wrong passwords: %v; want a few 5 (checked) and the rest 3 (refused unchecked)", codes)
	}
	if n := b.counter(t, "ioc_auth_limited_total", ""); n < 25 {
		t.Fatalf("ioc_auth_limited_total %v, want >= 25", n)
	}
	// The right password from the guessing address waits too...
	if code := connackFor(t, "127.0.0.1", b.addr, "acme", "pw-acme", "acme-1"); code != 3 {
		t.Fatalf("right password from the guessing address: return code %d, want 3", code)
	}
	// ...but not from another address.
	if code := connackFor(t, "127.0.0.2", b.addr, "acme", "pw-acme", "acme-2"); code != 0 {
		t.Fatalf("right password from 127.0.0.2: return code %d, want 0", code)
	}
	if err := pahoConnect(b.addr, "127.0.0.2", "acme", "pw-acme", "acme-3"); err != nil {
		t.Fatalf("paho from 127.0.0.2: %v", err)
	}
}

// TestMalformedClientID: a client id with a level separator or a space is
// refused as such (3.1.1 return code 2, identifier rejected), not as bad
// credentials.
func TestMalformedClientID(t *testing.T) {
	b := startTestBroker(t, broker.Config{}, nil, testPolicy(t))
	for _, id := range []string{"a/b", "a b", "a+", "a#"} {
		if code := connackFor(t, "127.0.0.1", b.addr, "acme", "pw-acme", id); code != 2 {
			t.Errorf("client id %q: return code %d, want 2 (identifier rejected)", id, code)
		}
	}
	if code := connackFor(t, "127.0.0.1", b.addr, "acme", "pw-acme", "acme-ok"); code != 0 {
		t.Errorf("a good client id: return code %d", code)
	}
}
