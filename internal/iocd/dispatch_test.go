package iocd_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
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
	cfg := iocConfig(t, sys, "dispatch")
	base := startIOC(t, cfg)
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
	// The fixed step with a photo (a form, as the phone sends it): a file
	// that is not an image by its bytes, whatever its name and type say,
	// and one over 8 MiB are refused with their codes and not kept.
	expectForm := func(u *user, fields map[string]string, name string, data []byte, status int, code string) {
		t.Helper()
		got, b := u.form(path+"fixed", fields, "photo", name, data)
		var e struct{ Code string }
		_ = json.Unmarshal(b, &e)
		if got != status || e.Code != code {
			t.Fatalf("POST fixed with %s: %d %s, want %d %q", name, got, b, status, code)
		}
	}
	fixNote := map[string]string{"note": "Đã chỉnh lại camera, gỡ vật che"}
	expectForm(tech, fixNote, "anh.jpg", []byte("<html><script>alert(1)</script></html>"), 415, "photo_type")
	big := append(testPNG(t), make([]byte, 8<<20)...)
	expectForm(tech, fixNote, "lon.png", big, 413, "photo_too_large")
	expectForm(tech2, fixNote, "anh.png", testPNG(t), 403, "not_assignee")
	if n := photosKept(t, cfg.PhotosDir()); n != 0 {
		t.Fatalf("%d photos kept from refused uploads", n)
	}
	expectForm(tech, fixNote, "anh.png", testPNG(t), 200, "")
	waitStep(alert.StepFixed)
	if a := picture(); len(a.Dispatch.Steps) != 4 || a.Dispatch.Steps[3].By != "technician" || a.Dispatch.Steps[3].Note != "Đã chỉnh lại camera, gỡ vật che" ||
		a.Dispatch.Steps[3].Photo == "" {
		t.Fatalf("steps %+v", a.Dispatch.Steps)
	}
	expect(op, "resolve", map[string]string{"note": "Đã kiểm tra hình ảnh"}, 200, "")

	var tl struct {
		Entries []struct {
			Transition, By, Note, Assignee, Photo string
			At                                    time.Time
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
	// The photo: in the timeline, served with the type its bytes showed to
	// whoever sees the alert, and to no one else.
	var photoURL string
	for _, e := range tl.Entries {
		if e.Transition == "fixed" {
			photoURL = e.Photo
		}
	}
	if !strings.HasPrefix(photoURL, "/api/v1/alerts/"+id+"/photos/") {
		t.Fatalf("the fixed step's photo is %q in the timeline", photoURL)
	}
	for _, u := range []*user{viewer, tech2} {
		st, b, h := u.fetch(photoURL)
		if st != 200 || h.Get("Content-Type") != "image/png" || h.Get("X-Content-Type-Options") != "nosniff" || !bytes.Equal(b, testPNG(t)) {
			t.Fatalf("GET the photo: %d %s, %d bytes", st, h.Get("Content-Type"), len(b))
		}
	}
	if st, _, _ := (&user{t: t, base: base, c: http.DefaultClient}).fetch(photoURL); st != 401 {
		t.Errorf("the photo without a session: %d, want 401", st)
	}
	if st, _, _ := login(t, base, "envsense").fetch(photoURL); st != 403 {
		t.Errorf("the photo to an integrator: %d, want 403", st)
	}
	other := strings.Replace(photoURL, "camera-tamper", "device-offline", 1)
	if st, _, _ := viewer.fetch(other); st != 404 {
		t.Errorf("the photo under another alert: %d, want 404", st)
	}

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
	if !strings.Contains(got, "resolve operator ; fixed technician photo:"+photoURL[strings.LastIndex(photoURL, "/")+1:]+"; on_site technician ; accept technician ; assign operator team:ky-thuat-tp") { // newest first
		t.Fatalf("audit: %s", got)
	}
}

// form posts a multipart form (fields, and one file) as the phone page
// does, with the CSRF token and the page's origin.
func (u *user) form(path string, fields map[string]string, file, name string, data []byte) (int, []byte) {
	u.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile(file, name)
	fw.Write(data)
	mw.Close()
	req, _ := http.NewRequest("POST", u.base+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", u.base)
	req.Header.Set("X-CSRF-Token", u.csrf)
	r, err := u.c.Do(req)
	if err != nil {
		u.t.Fatalf("POST %s: %v", path, err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, b
}

// fetch GETs path and returns the status, body and headers.
func (u *user) fetch(path string) (int, []byte, http.Header) {
	u.t.Helper()
	r, err := u.c.Get(u.base + path)
	if err != nil {
		u.t.Fatalf("GET %s: %v", path, err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, b, r.Header
}

// testPNG is a small real PNG: a 40×30 picture.
func testPNG(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// photosKept counts the files in the IOC server's photo directory.
func photosKept(t testing.TB, dir string) int {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}
