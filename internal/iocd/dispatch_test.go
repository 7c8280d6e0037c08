package iocd_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// TestDispatchThroughTheAPI takes a tamper alert from assignment to
// resolution through the API, ingest's alert service and the broker: who
// may take each step, steps out of order refused with their codes, the
// dispatch published with the alert, and the timeline read back from the
// store in order with who, the assignee and the notes.
func TestDispatchThroughTheAPI(t *testing.T) {
	sys := startIngest(t)
	base := startIOC(t, iocConfig(t, sys, "dispatch"))
	vms := integrator(t, sys, "vms-tn")
	const cam, id = "cam-bvtw-01", "camera-tamper/cam-bvtw-01"
	vms(cam, "event", `{"type": "tamper"}`)
	op, tech, tech2, viewer := login(t, base, "operator"), login(t, base, "technician"), login(t, base, "technician-2"), login(t, base, "viewer")
	picture := func() (a alert.Alert) {
		t.Helper()
		var out struct{ Alerts []alert.Alert }
		op.get("/api/v1/alerts", &out)
		for _, x := range out.Alerts {
			if x.ID == id {
				return x
			}
		}
		return alert.Alert{}
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if picture().ID == "" {
			return fmt.Errorf("no %s yet", id)
		}
		return nil
	})
	var s struct{ Teams []string }
	tech.get("/api/v1/session", &s)
	if strings.Join(s.Teams, ",") != "ky-thuat-tp,bao-tri-vms" {
		t.Fatalf("technician's teams: %v", s.Teams)
	}

	path := "/api/v1/alerts/" + id + "/"
	expect := func(u *user, step string, body any, status int, code string) {
		t.Helper()
		got, b := u.do("POST", path+step, body)
		var e struct{ Code string }
		_ = json.Unmarshal(b, &e)
		if got != status || e.Code != code {
			t.Fatalf("POST %s: %d %s, want %d %q", step, got, b, status, code)
		}
	}
	note := map[string]string{"note": ""}
	expect(tech, "accept", note, 409, "step_out_of_order")
	expect(viewer, "assign", map[string]string{"assignee": "team:ky-thuat-tp"}, 403, "forbidden")
	expect(tech, "assign", map[string]string{"assignee": "team:ky-thuat-tp"}, 403, "forbidden")
	expect(op, "assign", map[string]string{"assignee": "team:khong-co"}, 400, "bad_assignee")
	expect(op, "assign", map[string]string{"assignee": "user:viewer"}, 400, "bad_assignee")
	expect(op, "assign", map[string]string{"assignee": "technician"}, 400, "bad_assignee")
	expect(op, "assign", map[string]string{"assignee": "team:ky-thuat-tp", "note": "Camera cổng chính bị che"}, 200, "")
	testenv.Eventually(t, 10*time.Second, func() error {
		if a := picture(); a.Dispatch == nil || a.Dispatch.Assignee != "team:ky-thuat-tp" || a.Ack == nil || a.Ack.By != "operator" {
			return fmt.Errorf("not assigned and acknowledged yet: %+v %+v", a.Dispatch, a.Ack)
		}
		return nil
	})
	expect(tech2, "accept", note, 403, "not_assignee") // not in ky-thuat-tp
	expect(tech, "on-site", note, 409, "step_out_of_order")
	expect(tech, "accept", note, 200, "")
	waitStep := func(step alert.Step) {
		t.Helper()
		testenv.Eventually(t, 10*time.Second, func() error {
			if a := picture(); a.Dispatch == nil || a.Dispatch.Step != step {
				return fmt.Errorf("dispatch %+v, want step %s", a.Dispatch, step)
			}
			return nil
		})
	}
	waitStep(alert.StepAccepted)
	expect(tech, "fixed", note, 409, "step_out_of_order")
	expect(tech, "on-site", note, 200, "")
	waitStep(alert.StepOnSite)
	expect(tech, "fixed", map[string]string{"note": "Đã chỉnh lại camera, gỡ vật che"}, 200, "")
	waitStep(alert.StepFixed)
	if a := picture(); len(a.Dispatch.Steps) != 4 || a.Dispatch.Steps[3].By != "technician" || a.Dispatch.Steps[3].Note != "Đã chỉnh lại camera, gỡ vật che" {
		t.Fatalf("steps %+v", a.Dispatch.Steps)
	}
	expect(op, "resolve", map[string]string{"note": "Đã kiểm tra hình ảnh"}, 200, "")

	var tl struct {
		Entries []struct {
			Transition, By, Note, Assignee string
			At                             time.Time
		}
	}
	want := "raised; acked operator; assigned operator team:ky-thuat-tp Camera cổng chính bị che; accepted technician team:ky-thuat-tp; " +
		"on_site technician team:ky-thuat-tp; fixed technician team:ky-thuat-tp Đã chỉnh lại camera, gỡ vật che; resolved operator team:ky-thuat-tp Đã kiểm tra hình ảnh"
	testenv.Eventually(t, 15*time.Second, func() error {
		tech.get("/api/v1/alerts/"+id+"/timeline", &tl)
		var got []string
		for i, e := range tl.Entries {
			got = append(got, strings.TrimSpace(strings.Join([]string{e.Transition, e.By, e.Assignee, e.Note}, " ")))
			got[i] = strings.Join(strings.Fields(got[i]), " ")
			if i > 0 && e.At.Before(tl.Entries[i-1].At) {
				return fmt.Errorf("timeline out of order: %+v", tl.Entries)
			}
		}
		if strings.Join(got, "; ") != strings.Join(strings.Fields(want), " ") {
			return fmt.Errorf("timeline\n got %s\nwant %s", strings.Join(got, "; "), want)
		}
		return nil
	})
	admin := login(t, base, "admin")
	var audit struct {
		Entries []struct{ Action, User, Alert, Target, Result string }
	}
	admin.get("/api/v1/audit", &audit)
	var steps []string
	for _, e := range audit.Entries {
		if e.Alert == id && e.Result == "ok" {
			steps = append(steps, e.Action+" "+e.User+" "+e.Target)
		}
	}
	got := strings.Join(steps, "; ")
	if !strings.Contains(got, "resolve operator ; fixed technician ; on_site technician ; accept technician ; assign operator team:ky-thuat-tp") { // newest first
		t.Fatalf("audit: %s", got)
	}
}
