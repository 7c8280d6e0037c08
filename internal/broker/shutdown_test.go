package broker_test

import (
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/broker"
	"github.com/ioc-vn/ioc/internal/testenv"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"
)

// TestCloseDuringConnectionChurn closes the broker while clients keep
// connecting and leaving: Close must return, and a connected MQTT 5
// client is told the server is shutting down (DISCONNECT 0x8B).
func TestCloseDuringConnectionChurn(t *testing.T) {
	policy := testPolicy(t)
	connect := encodeConnect(t, "acme", "pw-acme", "")
	for round := range 5 {
		addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
		b, err := broker.New(broker.Config{Listen: addr}, broker.Deps{Log: slog.New(slog.DiscardHandler), Metrics: prometheus.NewRegistry(),
			IntakePrefix: "ioc/v1/", Access: policy, Intake: func(m *broker.Message) { m.Ack() }})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Start(); err != nil {
			t.Fatal(err)
		}
		watcher, code := rawConnect(t, addr, connectParams{v: 5, id: "watcher-" + strconv.Itoa(round), user: "acme", pass: "pw-acme", clean: true})
		if code != 0 {
			t.Fatalf("watcher CONNACK %#x", code)
		}

		stop := make(chan struct{})
		var churn sync.WaitGroup
		for range 4 {
			churn.Add(1)
			go func() {
				defer churn.Done()
				buf := make([]byte, 8)
				for {
					select {
					case <-stop:
						return
					default:
					}
					c, err := net.DialTimeout("tcp", addr, time.Second)
					if err != nil {
						continue // the listener is closed
					}
					c.SetDeadline(time.Now().Add(2 * time.Second))
					c.Write(connect)
					c.Read(buf)
					c.Close()
				}
			}()
		}

		closed := make(chan error, 1)
		go func() { closed <- b.Close() }()
		select {
		case <-closed:
		case <-time.After(30 * time.Second):
			close(stop)
			t.Fatalf("round %d: broker.Close did not return within 30 s while clients came and went", round)
		}
		close(stop)
		churn.Wait()

		pk, err := watcher.read(10 * time.Second)
		if err != nil {
			t.Fatalf("round %d: watcher got no DISCONNECT: %v", round, err)
		}
		if pk.FixedHeader.Type != packets.Disconnect || pk.ReasonCode != packets.ErrServerShuttingDown.Code {
			t.Fatalf("round %d: watcher got packet type %d reason %#x, want DISCONNECT %#x", round, pk.FixedHeader.Type, pk.ReasonCode, packets.ErrServerShuttingDown.Code)
		}
	}
}
