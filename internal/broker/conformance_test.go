package broker_test

import (
	"log/slog"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/ioc-vn/ioc/internal/broker"
	"github.com/ioc-vn/ioc/internal/testenv"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// conformanceBrokers starts the three brokers the conformance tests
// compare: the embedded broker in its anonymous mode (its hooks on, a
// device intake that stores nothing and acknowledges at once), bare
// mochi-mqtt with no hooks, and Mosquitto. It returns name -> host:port.
func conformanceBrokers(t *testing.T) map[string]string {
	t.Helper()
	embedded := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	b, err := broker.New(broker.Config{Listen: embedded, AllowAnonymous: true},
		broker.Deps{Log: slog.New(slog.DiscardHandler), IntakePrefix: "ioc/v1/", Intake: func(m *broker.Message) { m.Ack() }})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })

	bare := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	s := mqtt.New(&mqtt.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := s.AddListener(listeners.NewTCP(listeners.Config{ID: "bare", Address: bare})); err != nil {
		t.Fatal(err)
	}
	if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	return map[string]string{"embedded": embedded, "mochi": bare, "mosquitto": testenv.StartMosquitto(t, testenv.MosquittoOptions{}).Addr}
}

// mosq runs a mosquitto client (Debian's mosquitto-clients) against addr.
func mosq(t *testing.T, tool, addr string, args ...string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	out, err := exec.Command(tool, append([]string{"-h", host, "-p", port, "-V", "mqttv311"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestConformanceMosquittoClients: QoS 2 in and out and a retained
// message set at QoS 2, with mosquitto_pub and mosquitto_sub, on the three
// brokers; under ioc/v1/ on the embedded broker the QoS 2 publish goes
// through the intake's PUBREC.
func TestConformanceMosquittoClients(t *testing.T) {
	for name, addr := range conformanceBrokers(t) {
		t.Run(name, func(t *testing.T) {
			mosq(t, "mosquitto_pub", addr, "-i", "conf-pub", "-q", "2", "-r", "-t", "conf/retained", "-m", "kept")
			if got := mosq(t, "mosquitto_sub", addr, "-i", "conf-sub", "-q", "2", "-t", "conf/retained", "-C", "1", "-W", "10"); strings.TrimSpace(got) != "kept" {
				t.Errorf("retained QoS 2: got %q", got)
			}
			mosq(t, "mosquitto_pub", addr, "-i", "conf-dev", "-q", "2", "-t", "ioc/v1/acme/cam-01/telemetry", "-m", `{"fps":25}`)
		})
	}
}
