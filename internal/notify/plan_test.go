package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
)

func TestPlan(t *testing.T) {
	t0 := time.Date(2026, 5, 8, 16, 0, 0, 0, time.UTC) // 23:00 in Hà Nội
	pols := []Policy{
		{Name: "all", Severities: []alert.Severity{alert.Critical}, Notify: []string{"hook"},
			Unacknowledged: []Step{{After: 10 * time.Minute, Notify: []string{"lead"}}}},
		{Name: "night", Severities: []alert.Severity{alert.Minor}, Notify: []string{"team"}, QuietHours: &QuietHours{from: 22 * 60, to: 6 * 60}},
	}
	gw := time.Minute
	mk := func(sev alert.Severity, parent string) *incident {
		return &incident{Key: "x@1", Since: t0, Alert: alert.Alert{ID: "x", Severity: sev, State: alert.Active, Parent: parent, RaisedAt: t0}}
	}
	kinds := func(out []planned) (s []string) {
		for _, p := range out {
			s = append(s, string(p.kind)+">"+p.to[0])
		}
		return s
	}
	f := func(name string, in *incident, now time.Time, want []string, wantNext time.Time, wantOver bool) {
		t.Helper()
		out, next, over := plan(in, pols, nil, gw, now)
		if got := kinds(out); len(got) != len(want) || (len(got) > 0 && got[0] != want[0]) || !next.Equal(wantNext) || over != wantOver {
			t.Errorf("%s: got %v next %v over %v; want %v next %v over %v", name, got, next, over, want, wantNext, wantOver)
		}
	}
	f("within the group wait", mk(alert.Critical, ""), t0.Add(30*time.Second), nil, t0.Add(gw), false)
	f("after it", mk(alert.Critical, ""), t0.Add(gw), []string{"raised>hook"}, t0.Add(10*time.Minute), false)
	// A camera folded under its recorder's alert is that incident's: no
	// message, no deadline, until it surfaces.
	f("folded", mk(alert.Critical, "device-offline/nvr-a"), t0.Add(time.Hour), nil, time.Time{}, false)
	// Minor at 23:01 in Hà Nội: held until 06:00.
	f("quiet hours", mk(alert.Minor, ""), t0.Add(gw), nil, time.Date(2026, 5, 8, 23, 0, 0, 0, time.UTC), false)
	f("after quiet hours", mk(alert.Minor, ""), time.Date(2026, 5, 8, 23, 0, 0, 0, time.UTC), []string{"raised>team"}, time.Time{}, false)
	resolved := mk(alert.Minor, "")
	resolved.Alert.State, resolved.Alert.ResolvedAt = alert.Resolved, t0.Add(2*time.Hour)
	f("resolved in quiet hours, never told", resolved, t0.Add(3*time.Hour), nil, time.Time{}, true)

	in := mk(alert.Critical, "")
	plan(in, pols, nil, gw, t0.Add(gw))
	in.Alert.Ack = &alert.Ack{By: "van-hanh-1", At: t0.Add(5 * time.Minute)}
	f("acknowledged: told, no escalation", in, t0.Add(11*time.Minute), []string{"acknowledged>hook"}, time.Time{}, false)
	in.Alert.State, in.Alert.ResolvedAt = alert.Resolved, t0.Add(20*time.Minute)
	f("resolved: waits the group wait", in, t0.Add(20*time.Minute), nil, t0.Add(21*time.Minute), false)
	f("resolved: said, over", in, t0.Add(21*time.Minute), []string{"resolved>hook"}, time.Time{}, true)

	// A missed target is one message to the policy's breached recipients,
	// once, who are then told the updates; a policy without them says
	// nothing of it.
	bpols := []Policy{{Name: "targets", Severities: []alert.Severity{alert.Critical}, Notify: []string{"hook"}, Breached: []string{"lead"}}}
	br := mk(alert.Critical, "")
	br.Alert.AckDue, br.Alert.RestoreDue = t0.Add(5*time.Minute), t0.Add(4*time.Hour)
	plan(br, bpols, nil, gw, t0.Add(gw))
	if out, _, _ := plan(br, bpols, nil, gw, t0.Add(6*time.Minute)); len(out) != 0 {
		t.Errorf("targets not missed yet: %v", kinds(out))
	}
	br.Alert.AckOverdue = true
	out, _, _ := plan(br, bpols, nil, gw, t0.Add(5*time.Minute))
	if got := kinds(out); len(got) != 1 || got[0] != "ack_overdue>lead" || out[0].after != 5*time.Minute {
		t.Errorf("acknowledge target missed: %v, want one ack_overdue to lead (5m)", got)
	}
	if out, _, _ := plan(br, bpols, nil, gw, t0.Add(6*time.Minute)); len(out) != 0 {
		t.Errorf("the same breach planned again: %v", kinds(out))
	}
	nob := []Policy{{Name: "targets", Severities: []alert.Severity{alert.Critical}, Notify: []string{"hook"}}}
	nb := mk(alert.Critical, "")
	nb.Alert.AckDue, nb.Alert.AckOverdue = t0.Add(5*time.Minute), true
	if got := kinds(first(plan(nb, nob, nil, gw, t0.Add(6*time.Minute)))); len(got) != 1 || got[0] != "raised>hook" {
		t.Errorf("a policy without breached: %v, want the raised message only", got)
	}
	br.Alert.RestoreOverdue = true
	if got := kinds(first(plan(br, bpols, nil, gw, t0.Add(4*time.Hour)))); len(got) != 1 || got[0] != "restore_overdue>lead" {
		t.Errorf("restore target missed: %v", got)
	}
	br.Alert.State, br.Alert.ResolvedAt = alert.Resolved, t0.Add(5*time.Hour)
	out, _, _ = plan(br, bpols, nil, gw, t0.Add(5*time.Hour+gw))
	if len(out) != 1 || out[0].kind != KindResolved || len(out[0].to) != 2 {
		t.Errorf("resolved: %+v, want one message to hook and lead", out)
	}
}

// TestPlanAssigned: an assignment tells the assignee's recipients at once,
// once; the acknowledgement it made goes to the others told; a new
// assignment is told again; the resolution goes to all.
func TestPlanAssigned(t *testing.T) {
	t0 := time.Date(2026, 5, 8, 7, 30, 0, 0, time.UTC)
	pols := []Policy{{Name: "all", Severities: []alert.Severity{alert.Critical}, Notify: []string{"hook"}}}
	who := map[string][]string{"team:ky-thuat-tp": {"team-chat"}, "user:ky-thuat-2": {"ky-thuat-2"}}
	in := &incident{Key: "x@1", Since: t0, Alert: alert.Alert{ID: "x", Severity: alert.Critical, State: alert.Active, RaisedAt: t0}}
	steps := func(now time.Time) (s []string) {
		out, _, _ := plan(in, pols, who, time.Minute, now)
		for _, p := range out {
			s = append(s, string(p.kind)+">"+strings.Join(p.to, ","))
		}
		return s
	}
	f := func(name string, now time.Time, want ...string) {
		t.Helper()
		if got := steps(now); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	f("raised", t0.Add(time.Minute), "raised>hook")
	assign := func(to string, at time.Time) {
		in.Alert.Ack = &alert.Ack{By: "van-hanh-1", At: t0.Add(3 * time.Minute)}
		in.Alert.Dispatch = &alert.Dispatch{Assignee: to, Step: alert.StepAssigned, Steps: []alert.StepRecord{{Step: alert.StepAssigned, By: "van-hanh-1", At: at}}}
	}
	assign("team:ky-thuat-tp", t0.Add(3*time.Minute))
	f("assigned", t0.Add(3*time.Minute), "assigned>team-chat", "acknowledged>hook")
	f("once", t0.Add(4*time.Minute))
	in.Alert.Dispatch.Steps = append(in.Alert.Dispatch.Steps, alert.StepRecord{Step: alert.StepAccepted, By: "ky-thuat-1", At: t0.Add(5 * time.Minute)})
	f("a step is no new assignment", t0.Add(5*time.Minute))
	assign("user:ky-thuat-2", t0.Add(6*time.Minute))
	f("assigned again", t0.Add(6*time.Minute), "assigned>ky-thuat-2")
	assign("user:khong-co", t0.Add(7*time.Minute))
	f("an assignee no one is named for", t0.Add(7*time.Minute))
	in.Alert.State, in.Alert.ResolvedAt = alert.Resolved, t0.Add(10*time.Minute)
	f("resolved", t0.Add(11*time.Minute), "resolved>hook,team-chat,ky-thuat-2")
}

func first(out []planned, _ time.Time, _ bool) []planned { return out }
