package alert

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
)

func TestDispatchStepsInOrder(t *testing.T) {
	r := newRig(t, "recorder-disk-full")
	r.send("nvr-1", "status", f("storage_pct", 95))
	r.expect("raised recorder-disk-full/nvr-1")
	id := "recorder-disk-full/nvr-1"
	step := func(s Step, assignee, by string) error {
		trs, err := r.e.Dispatch(id, s, assignee, by, "ghi chú "+string(s), "", r.now)
		r.log = append(r.log, trs...)
		return err
	}
	for _, tc := range []struct {
		step Step
		want string // "" for ok, else a part of the error
	}{
		{StepAccepted, "needs the alert assigned first"},
		{StepFixed, "needs the alert assigned first"},
	} {
		if err := step(tc.step, "", "ky-thuat-1"); err == nil || !errors.Is(err, ErrStepOrder) || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s before assigning: %v", tc.step, err)
		}
	}
	if err := step(StepAssigned, "somebody", "van-hanh-1"); err == nil {
		t.Fatal("an assignee without user: or team: was taken")
	}
	r.expect()
	r.at(time.Minute)
	if err := step(StepAssigned, "team:doi-d1", "van-hanh-1"); err != nil {
		t.Fatal(err)
	}
	tr := r.expect("acked "+id, "assigned "+id) // assigning acknowledges
	if a := tr[1].Alert; a.Ack == nil || a.Ack.By != "van-hanh-1" || a.Dispatch == nil || a.Dispatch.Assignee != "team:doi-d1" ||
		a.Dispatch.Step != StepAssigned || !a.Dispatch.Since().Equal(t0.Add(time.Minute)) || tr[1].By != "van-hanh-1" {
		t.Fatalf("assigned: %+v %+v", a, a.Dispatch)
	}
	for i, tc := range []struct {
		step Step
		ok   bool
	}{
		{StepOnSite, false}, {StepFixed, false}, {StepAccepted, true}, {StepAccepted, false},
		{StepOnSite, true}, {StepEnRoute, false}, {StepFixed, true}, {StepOnSite, false},
	} {
		r.at(time.Duration(2+i) * time.Minute)
		err := step(tc.step, "", "ky-thuat-1")
		if (err == nil) != tc.ok {
			t.Fatalf("step %d %s: err %v, want ok %v", i, tc.step, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrStepOrder) {
			t.Fatalf("step %d %s: %v does not say it is out of order", i, tc.step, err)
		}
	}
	tr = r.expect("accepted "+id, "on_site "+id, "fixed "+id)
	d := tr[2].Alert.Dispatch
	var got []string
	for _, s := range d.Steps {
		got = append(got, string(s.Step)+"@"+s.At.Sub(t0).String()+" "+s.By+" "+s.Note)
	}
	want := "assigned@1m0s van-hanh-1 ghi chú assigned; accepted@4m0s ky-thuat-1 ghi chú accepted; on_site@6m0s ky-thuat-1 ghi chú on_site; fixed@8m0s ky-thuat-1 ghi chú fixed"
	if strings.Join(got, "; ") != want {
		t.Fatalf("steps\n got %s\nwant %s", strings.Join(got, "; "), want)
	}
	// Transitions handed out keep the steps they had.
	if n := len(tr[0].Alert.Dispatch.Steps); n != 2 {
		t.Fatalf("the accepted transition's copy has %d steps, want 2", n)
	}
	// The dispatch survives a restart; a resolved alert takes no step.
	r.restart(time.Minute)
	if a, _ := r.e.Alert(id); a.Dispatch == nil || a.Dispatch.Step != StepFixed || len(a.Dispatch.Steps) != 4 {
		t.Fatalf("after a restart: %+v", a.Dispatch)
	}
	r.send("nvr-1", "status", f("storage_pct", 50))
	r.expect("resolved " + id)
	if err := step(StepAssigned, "user:ky-thuat-2", "van-hanh-1"); err == nil || !strings.Contains(err.Error(), "not active") {
		t.Fatalf("assigning a resolved alert: %v", err)
	}
}

func TestDispatchFoldedAlertGoesWithItsParent(t *testing.T) {
	r := newRig(t, "device-offline")
	r.sendAll("nvr-1", "cam-1")
	r.at(3 * time.Minute)
	r.expectFor("device-offline/cam-1", "raised device-offline/cam-1")
	if _, err := r.e.Dispatch("device-offline/cam-1", StepAssigned, "user:ky-thuat-1", "van-hanh-1", "", "", r.now); err == nil || !strings.Contains(err.Error(), "folded under") {
		t.Fatalf("assigning a folded alert: %v", err)
	}
	trs, err := r.e.Dispatch("device-offline/nvr-1", StepAssigned, "user:ky-thuat-1", "van-hanh-1", "", "", r.now)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tr := range trs {
		got = append(got, string(tr.Kind)+" "+tr.Alert.ID)
	}
	if strings.Join(got, "; ") != "acked device-offline/nvr-1; acked device-offline/cam-1; assigned device-offline/nvr-1" {
		t.Fatalf("assigning the recorder: %v", got)
	}
}

// overdues returns the target transitions since the last call, as
// "kind id @offset", dropping the others.
func (r *rig) overdues() string {
	var got []string
	for _, x := range r.log {
		if x.Kind == AckOverdue || x.Kind == RestoreOverdue {
			got = append(got, string(x.Kind)+" "+x.Alert.ID+" @"+x.At.Sub(t0).String())
		}
	}
	r.log = nil
	return strings.Join(got, "; ")
}

func TestResponseTargets(t *testing.T) {
	targets := map[Severity]Target{Critical: {Acknowledge: 5 * time.Minute, Restore: time.Hour}}
	tamper := func(r *rig, until time.Duration) { // events every 4 minutes keep it active
		for m := time.Duration(0); m <= until; m += 4 * time.Minute {
			r.at(m)
			r.send("cam-1", "event", point.StringField("type", "tamper"))
		}
	}
	t.Run("missed", func(t *testing.T) {
		r := newRig(t, "camera-tamper", "recorder-disk-full")
		r.e.o.Targets = targets
		r.send("nvr-1", "status", f("storage_pct", 95)) // major: no target
		tamper(r, 0)
		tr := r.expect("raised recorder-disk-full/nvr-1", "raised camera-tamper/cam-1")
		if a := tr[1].Alert; !a.AckDue.Equal(t0.Add(5*time.Minute)) || !a.RestoreDue.Equal(t0.Add(time.Hour)) {
			t.Fatalf("targets %v %v", a.AckDue, a.RestoreDue)
		}
		if a := tr[0].Alert; !a.AckDue.IsZero() || !a.RestoreDue.IsZero() {
			t.Fatalf("a major alert has targets %v %v", a.AckDue, a.RestoreDue)
		}
		tamper(r, 56*time.Minute)
		if got := r.overdues(); got != "ack_overdue camera-tamper/cam-1 @5m0s" {
			t.Fatalf("got %q", got)
		}
		if a, _ := r.e.Alert("camera-tamper/cam-1"); !a.AckOverdue || a.RestoreOverdue {
			t.Fatalf("marks %v %v", a.AckOverdue, a.RestoreOverdue)
		}
		// The restore target is kept across a restart, and one missed while
		// ingest was down is announced at the start.
		r.restart(10 * time.Minute)
		r.at(66 * time.Minute)
		if got := r.overdues(); got != "restore_overdue camera-tamper/cam-1 @1h6m0s" {
			t.Fatalf("got %q", got)
		}
		r.at(3 * time.Hour)
		if got := r.overdues(); got != "" {
			t.Fatalf("twice: %q", got)
		}
	})
	t.Run("met", func(t *testing.T) {
		r := newRig(t, "camera-tamper")
		r.e.o.Targets = targets
		tamper(r, 0)
		r.at(4 * time.Minute)
		if _, err := r.e.Acknowledge("camera-tamper/cam-1", "van-hanh-1", "", r.now); err != nil {
			t.Fatal(err)
		}
		tamper(r, 20*time.Minute)
		r.at(59 * time.Minute) // cleared 15 minutes after the last event, at 35m
		if got := r.overdues(); got != "" {
			t.Fatalf("targets met, yet %q", got)
		}
		r.at(2 * time.Hour)
		if got := r.overdues(); got != "" {
			t.Fatalf("targets met, yet %q", got)
		}
	})
}
