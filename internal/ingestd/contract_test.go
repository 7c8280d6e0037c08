package ingestd_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/store"
	"github.com/ioc-vn/ioc/internal/store/embedded"
	"github.com/ioc-vn/ioc/internal/store/influx"
	"github.com/ioc-vn/ioc/internal/testenv"
)

type example struct {
	topic  string
	body   []byte
	stored []string
}

var exampleRe = regexp.MustCompile("(?s)\\*\\*Topic\\*\\* `([^`]+)`\\n```[a-z]*\\n(.*?)```\\n\\*\\*Stored\\*\\*\\n```text\\n(.*?)```")

// docExamples reads the examples of docs/MQTT.md.
func docExamples(t *testing.T) []example {
	b, err := os.ReadFile("../../docs/MQTT.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []example
	for _, m := range exampleRe.FindAllStringSubmatch(string(b), -1) {
		out = append(out, example{topic: m[1], body: []byte(m[2]), stored: strings.Split(strings.TrimSpace(m[3]), "\n")})
	}
	if n := strings.Count(string(b), "**Topic**"); len(out) != n || n < 8 {
		t.Fatalf("read %d examples of %d in docs/MQTT.md; each needs a Topic, a payload block and a Stored block", len(out), n)
	}
	return out
}

// exampleDevices are the devices an example's stored lines name: the
// topic's, or for a gateway's message the devices behind it.
func exampleDevices(ex example) []string {
	var devices []string
	for _, l := range ex.stored {
		if _, rest, ok := strings.Cut(l, ",device="); ok {
			d, _, _ := strings.Cut(rest, ",")
			if !slices.Contains(devices, d) {
				devices = append(devices, d)
			}
		}
	}
	if len(devices) == 0 {
		devices = []string{strings.Split(ex.topic, "/")[3]}
	}
	return devices
}

// TestContractExamples publishes every example of docs/MQTT.md verbatim
// through a real broker and checks that the store holds exactly what the
// page says, on InfluxDB and on the embedded store.
func TestContractExamples(t *testing.T) {
	examples := docExamples(t)
	now := time.Date(2026, 11, 23, 3, 0, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	received := strconv.FormatInt(now.UnixNano(), 10)

	check := func(t *testing.T, st store.Store, brokerURL string) {
		pub := client(t, brokerURL, "examples")
		for _, ex := range examples {
			publish(t, pub, ex.topic, ex.body)
		}
		for _, ex := range examples {
			devices := exampleDevices(ex)
			want := slices.Clone(ex.stored)
			for i := range want {
				want[i] = strings.ReplaceAll(want[i], "RECEIVED", received)
			}
			slices.Sort(want)
			var got []string
			testenv.Eventually(t, 15*time.Second, func() error {
				got = got[:0]
				for _, device := range devices {
					pts, err := st.Query(context.Background(), store.Query{Device: device, From: now.Add(-time.Hour), To: now.Add(time.Hour)})
					if err != nil {
						return err
					}
					for i := range pts {
						got = append(got, string(point.AppendLine(nil, &pts[i])))
					}
				}
				slices.Sort(got)
				if len(got) < len(want) {
					return fmt.Errorf("%s: %d of %d points stored", ex.topic, len(got), len(want))
				}
				return nil
			})
			if !slices.Equal(got, want) {
				t.Errorf("%s: stored\n%s\nwant (docs/MQTT.md)\n%s", ex.topic, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
	}

	t.Run("influxdb", func(t *testing.T) {
		in := testenv.StartInflux(t)
		c := testConfig(t)
		c.Alerts.Rules = "" // what is stored for the examples, without alert history
		c.Influx.URL, c.Influx.Database = in.URL, in.DB
		ing := startIngest(t, c, clock)
		st, err := influx.New(c.Influx)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		check(t, st, ing.BrokerURL)
	})
	t.Run("embedded", func(t *testing.T) {
		c := testConfig(t)
		c.Alerts.Rules = ""
		ing := startIngest(t, c, clock)
		st, err := embedded.Open(context.Background(), c.StorePath())
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		check(t, st, ing.BrokerURL)
	})
}

// TestEveryReasonDocumented keeps the contract page's error table complete.
func TestEveryReasonDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/MQTT.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range payload.Reasons {
		if !strings.Contains(string(b), "| `"+string(r)+"` |") {
			t.Errorf("reason %s is not in the table of docs/MQTT.md", r)
		}
	}
}
