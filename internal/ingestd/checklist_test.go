package ingestd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/ingest"
	"github.com/ioc-vn/ioc/internal/store"
	"github.com/ioc-vn/ioc/internal/store/embedded"
	"github.com/ioc-vn/ioc/internal/testenv"
)

var checklistRe = regexp.MustCompile("(?s)\\*\\*Topic\\*\\* `([^`]+)`\\n```[a-z]*\\n(.*?)```\\n\\*\\*Expect\\*\\* `([^`]+)`")

// TestIntegratorChecklist publishes the checklist of docs/INTEGRATORS.md
// verbatim, as the demo integrator with access control on, and checks
// each step's Expect: stored, or the reason on the errors topic.
func TestIntegratorChecklist(t *testing.T) {
	doc, err := os.ReadFile("../../docs/INTEGRATORS.md")
	if err != nil {
		t.Fatal(err)
	}
	steps := checklistRe.FindAllStringSubmatch(string(doc), -1)
	if n := strings.Count(string(doc), "**Expect**"); len(steps) != n || n < 5 {
		t.Fatalf("read %d checklist steps of %d", len(steps), n)
	}
	c := testConfig(t)
	c.Broker.AllowAnonymous = false
	c.Alerts.Rules = "" // counts each device's stored points; no alert history among them
	ing := startIngest(t, c, nil)
	vms, err := dial(ing.BrokerURL, "vms-gateway-checklist", "vms-tn", "demo-vms-tn")
	if err != nil {
		t.Fatal(err)
	}
	defer vms.Disconnect(0)
	reports := make(chan ingest.Report, 20)
	if tok := vms.Subscribe("ioc/v1/vms-tn/_errors", 1, func(_ paho.Client, m paho.Message) {
		var r ingest.Report
		if json.Unmarshal(m.Payload(), &r) == nil {
			reports <- r
		}
	}); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	st, err := embedded.Open(context.Background(), c.StorePath())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, s := range steps {
		topic, body, expect := s[1], s[2], s[3]
		device := strings.Split(topic, "/")[3]
		count := func() int {
			pts, err := st.Query(context.Background(), store.Query{Device: device, From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			return len(pts)
		}
		before := count()
		publish(t, vms, topic, []byte(body))
		switch {
		case expect == "stored":
			testenv.Eventually(t, 10*time.Second, func() error {
				if count() != before+1 {
					return fmt.Errorf("%s: not stored", topic)
				}
				return nil
			})
		case strings.HasPrefix(expect, "error "):
			want := strings.TrimPrefix(expect, "error ")
			select {
			case r := <-reports:
				if string(r.Reason) != want || r.Topic != topic {
					t.Errorf("%s: report %s for %s, want %s", topic, r.Reason, r.Topic, want)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("%s: no %s report", topic, want)
			}
			if n := count(); n != before {
				t.Errorf("%s: refused message stored", topic)
			}
		default:
			t.Fatalf("unknown Expect %q", expect)
		}
	}
}
