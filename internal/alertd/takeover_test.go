package alertd_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/alertd"
	"github.com/ioc-vn/ioc/internal/contract"
)

// retainedState is what a broker would retain after pub's messages: the
// last retained payload per topic.
func (p *published) retainedState() map[string][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string][]byte{}
	for _, m := range p.msgs {
		if m.retain {
			out[m.topic] = []byte(m.body)
		}
	}
	return out
}

func command(t *testing.T, s *alertd.Service, c contract.Command) {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	s.Command(b)
}

// TestTakeOverFromRetained: a standby publishes nothing; when it takes
// over, it starts from what the previous owner left retained (the alert
// and its acknowledgement), raises nothing again, and answers each
// command id once.
func TestTakeOverFromRetained(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := testRegistry(t)
		rules, err := alert.ParseRules([]byte(testRules))
		if err != nil {
			t.Fatal(err)
		}
		run := func(pub *published, standby bool) (*alertd.Service, func()) {
			s, err := alertd.New(context.Background(), alertd.Config{Renotify: 15 * time.Minute}, alertd.Deps{
				Rules: rules, Registry: reg, Publisher: pub, DataDir: t.TempDir(), Standby: standby,
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = s.Run(ctx) }()
			return s, func() { cancel(); <-done }
		}
		var pubA, pubB published
		a, stopA := run(&pubA, false)
		b, stopB := run(&pubB, true)
		defer stopB()

		tamper(a, reg, "cam-1")
		tamper(b, reg, "cam-2") // a standby evaluates nothing
		command(t, b, contract.Command{ID: "to-standby", Op: contract.OpAck, Alert: "camera-tamper/cam-1", By: "an"})
		synctest.Wait()
		command(t, a, contract.Command{ID: "ack-1", Op: contract.OpAck, Alert: "camera-tamper/cam-1", By: "truc-ban", Note: "đã xem"})
		synctest.Wait()
		stopA() // the owner is gone
		if n := len(pubB.msgs); n != 0 {
			t.Fatalf("the standby published %d messages, first %+v", n, pubB.msgs[0])
		}

		r, bad := alertd.ParseRetained(pubA.retainedState())
		if len(bad) > 0 {
			t.Fatalf("undecodable retained state: %v", bad)
		}
		b.TakeOver(r)
		synctest.Wait()
		if !b.Owning() {
			t.Fatal("not owning after TakeOver")
		}
		var got alert.Alert
		if err := json.Unmarshal([]byte(pubB.retained(contract.AlertTopic("camera-tamper/cam-1"))), &got); err != nil {
			t.Fatalf("the new owner does not retain the alert: %v", err)
		}
		if got.Ack == nil || got.Ack.By != "truc-ban" {
			t.Errorf("acknowledgement lost in the takeover: %+v", got.Ack)
		}
		if st := pubB.retained(contract.DeviceStateTopic("cam-1")); !strings.Contains(st, `"status":"online"`) {
			t.Errorf("cam-1's state after the takeover: %s", st)
		}
		tamper(b, reg, "cam-1") // still active: updated, not raised again
		tamper(b, reg, "cam-2")
		for range 2 {
			command(t, b, contract.Command{ID: "resolve-1", Op: contract.OpResolve, Alert: "camera-tamper/cam-1", By: "truc-ban"})
		}
		synctest.Wait()
		expect(t, &pubB, "updated camera-tamper/cam-1", "raised camera-tamper/cam-2", "resolved camera-tamper/cam-1")
		res := pubB.results()
		if len(res) != 1 || res[0].ID != "resolve-1" || !res[0].OK {
			t.Errorf("results %+v, want resolve-1 answered once", res)
		}
		if pubB.retained(contract.AlertTopic("camera-tamper/cam-1")) != "" {
			t.Error("resolved alert still retained")
		}

		b.StandBy()
		tamper(b, reg, "cam-1")
		synctest.Wait()
		expect(t, &pubB, "updated camera-tamper/cam-1", "raised camera-tamper/cam-2", "resolved camera-tamper/cam-1")
	})
}
