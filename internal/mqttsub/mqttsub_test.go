package mqttsub_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/ingest"
	"github.com/ioc-vn/ioc/internal/mqttsub"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// dialPair dials a loopback listener through mqttsub.Dialer.
func dialPair(t *testing.T) (net.Conn, net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() { c, _ := ln.Accept(); accepted <- c }()
	u, _ := url.Parse("tcp://" + ln.Addr().String())
	c, err := mqttsub.Dialer(nil)(u, *paho.NewClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

func TestCoalescedWritesArriveInOrder(t *testing.T) {
	c, s := dialPair(t)
	var want bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 20000 {
			p := fmt.Appendf(nil, "%d,", i)
			want.Write(p)
			if _, err := c.Write(p); err != nil {
				t.Error(err)
				return
			}
		}
		c.Close() // must flush what is pending before closing
	}()
	got, err := io.ReadAll(s)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("received %d bytes, want %d in the order written", len(got), want.Len())
	}
	if _, err := c.Write([]byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v, want net.ErrClosed", err)
	}
}

func TestBufferedReadsSeeEverything(t *testing.T) {
	c, s := dialPair(t)
	msg := bytes.Repeat([]byte("0123456789"), 20000) // larger than the read buffer
	go func() { s.Write(msg); s.Close() }()
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("read %d bytes (%v), want %d", len(got), err, len(msg))
	}
}

func TestWriteErrorSurfaces(t *testing.T) {
	c, s := dialPair(t)
	s.Close()
	testenv.Eventually(t, 5*time.Second, func() error {
		_, err := c.Write(make([]byte, 64<<10))
		if err == nil {
			return errors.New("writes to a closed peer keep succeeding")
		}
		return nil
	})
}

type msg struct {
	topic string
	ack   func()
}

// TestReconnectsAndKeepsSession: after the broker restarts, the client
// reconnects on its own, its persistent session still holds the
// subscription, and a message published while it was away arrives.
func TestReconnectsAndKeepsSession(t *testing.T) {
	mq := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
	got := make(chan msg, 10)
	cfg := mqttsub.Config{Broker: mq.URL, ClientID: "sub-reconnect", Topics: []string{"ioc/v1/#"}, KeepAlive: 2 * time.Second}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c := mqttsub.New(cfg, slog.New(slog.DiscardHandler), func(m mqttsub.Message) { got <- msg{m.Topic(), m.Ack} })
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Close(0)
	testenv.Eventually(t, 10*time.Second, func() error {
		if !c.Connected() {
			return errors.New("not connected")
		}
		return nil
	})
	mq.Stop()
	testenv.Eventually(t, 10*time.Second, func() error {
		if c.Connected() {
			return errors.New("still says connected")
		}
		return nil
	})
	mq.Start()
	pub := paho.NewClient(paho.NewClientOptions().AddBroker(mq.URL).SetClientID("pub"))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer pub.Disconnect(100)
	if tok := pub.Publish("ioc/v1/acme/cam-01/status", 1, false, `{"state":"online"}`); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	select {
	case m := <-got:
		if m.topic != "ioc/v1/acme/cam-01/status" {
			t.Fatalf("got %s", m.topic)
		}
		m.ack()
	case <-time.After(20 * time.Second):
		t.Fatal("no message after the broker restarted")
	}
}

func TestConfigValidate(t *testing.T) {
	f := func(c mqttsub.Config, want string) {
		t.Helper()
		err := c.Validate()
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Fatalf("Validate(%+v) = %v, want %q", c, err, want)
		}
	}
	ok := mqttsub.Config{Broker: "tcp://127.0.0.1:1883", ClientID: "a", Topics: []string{"x"}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := ok
	bad.Broker = "ws://host/mqtt"
	f(bad, "use tcp:// or ssl://")
	bad = ok
	bad.ClientID = "a/b"
	f(bad, "not allowed")
	bad = ok
	bad.ClientID = ""
	f(bad, "stable client id")
	shared := ok
	shared.SharedGroup = "ingest"
	if got := shared.Filters(); len(got) != 1 || got[0] != "$share/ingest/x" {
		t.Fatalf("shared filters %v", got)
	}
}

// TestRetainedDeliveriesAreReplays: a message Mosquitto sends from its
// retained store on subscribing is marked as a replay; a live publish,
// even one the device asked the broker to retain, is not.
func TestRetainedDeliveriesAreReplays(t *testing.T) {
	mq := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
	pub := paho.NewClient(paho.NewClientOptions().AddBroker(mq.URL).SetClientID("pub-retained"))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer pub.Disconnect(100)
	send := func(body string) {
		t.Helper()
		if tok := pub.Publish("ioc/v1/acme/cam-01/status", 1, true, body); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	send(`{"state":"offline"}`)
	type delivery struct {
		body   string
		replay bool
	}
	got := make(chan delivery, 10)
	cfg := mqttsub.Config{Broker: mq.URL, ClientID: "sub-retained", Topics: []string{"ioc/v1/#"}}
	c := mqttsub.New(cfg, slog.New(slog.DiscardHandler), func(m mqttsub.Message) {
		r, ok := m.(ingest.Replay)
		got <- delivery{string(m.Payload()), ok && r.RetainedReplay()}
		m.Ack()
	})
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Close(0)
	next := func(want delivery) {
		t.Helper()
		select {
		case d := <-got:
			if d != want {
				t.Fatalf("got %+v, want %+v", d, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no delivery; want %+v", want)
		}
	}
	next(delivery{`{"state":"offline"}`, true})
	send(`{"state":"online"}`)
	// The broker may replay the retained message more than once (it sends
	// retained messages on every SUBSCRIBE of the filter, and the race run
	// saw two around one connect); every replay must be marked as one.
	for {
		select {
		case d := <-got:
			if d == (delivery{`{"state":"offline"}`, true}) {
				continue
			}
			if d != (delivery{`{"state":"online"}`, false}) {
				t.Fatalf("got %+v, want the live online status, not a replay", d)
			}
			return
		case <-time.After(10 * time.Second):
			t.Fatal("no live delivery of the online status")
		}
	}
}

// TestConnectReturnsOnceSubscribed: Connect returns only after the broker
// answered SUBACK, so what a device publishes after ingest said it started
// is kept for ingest. A proxy in front of Mosquitto passes the CONNACK and
// holds the broker's next packets until Connect returns or half a second
// has passed; before the fix Connect returned at CONNACK and the message
// published at once was lost.
func TestConnectReturnsOnceSubscribed(t *testing.T) {
	mq := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
	target, err := url.Parse(mq.URL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	returned := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b, err := net.Dial("tcp", target.Host)
		if err != nil {
			t.Error(err)
			return
		}
		defer b.Close()
		go io.Copy(b, c)
		connack := make([]byte, 4)
		if _, err := io.ReadFull(b, connack); err != nil {
			return
		}
		c.Write(connack)
		select {
		case <-returned:
		case <-time.After(500 * time.Millisecond):
		}
		io.Copy(c, b)
	}()
	got := make(chan msg, 1)
	cfg := mqttsub.Config{Broker: "tcp://" + ln.Addr().String(), ClientID: "sub-ready", Topics: []string{"ioc/v1/#"}}
	c := mqttsub.New(cfg, slog.New(slog.DiscardHandler), func(m mqttsub.Message) { got <- msg{m.Topic(), m.Ack} })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = c.Connect(ctx)
	close(returned)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(0)
	if !c.Connected() {
		t.Fatal("Connect returned before the broker acknowledged the subscription")
	}
	pub := paho.NewClient(paho.NewClientOptions().AddBroker(mq.URL).SetClientID("pub-ready"))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer pub.Disconnect(100)
	if tok := pub.Publish("ioc/v1/acme/cam-01/status", 1, false, `{"state":"online"}`); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	select {
	case m := <-got:
		m.ack()
	case <-time.After(20 * time.Second):
		t.Fatal("the message published right after Connect was lost")
	}
}
