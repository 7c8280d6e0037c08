package iocd_test

import (
	"encoding/json"
	"fmt"
	"github.com/ioc-vn/ioc/internal/iocd"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// TestOperatorsWorkflow runs ingest and an IOC server with the shipped
// configuration and follows an alert from a device's message to the live
// stream, through acknowledgement and resolution by a technician, into the
// history and the audit log, checking each role's limits on the way.
func TestOperatorsWorkflow(t *testing.T) {
	sys := startIngest(t)
	base := startIOC(t, iocConfig(t, sys, "a"))
	env := integrator(t, sys, "envsense")
	reg, err := registry.Load(configs + "devices.yaml")
	if err != nil {
		t.Fatal(err)
	}

	viewer := login(t, base, "viewer")
	ws, err := viewer.dial("")
	if err != nil {
		t.Fatal(err)
	}
	wall := read(t, ws)
	snap := wall.wait(t, 5*time.Second, func(f *frame) bool { return f.Type == "snapshot" })
	if len(snap.Devices) != reg.Len() {
		t.Fatalf("snapshot has %d devices, the registry %d", len(snap.Devices), reg.Len())
	}

	const dev = "wl-cau-gia-bay"
	const id = "water-rising/" + dev
	start := time.Now().Add(-time.Minute)
	env(dev, "telemetry", `{"water_level_cm":100}`)
	env(dev, "telemetry", `{"water_level_cm":125}`)
	raised := wall.wait(t, 5*time.Second, func(f *frame) bool { return f.Type == "alert" && f.Alert.ID == id })
	if raised.Alert.Severity != "critical" || raised.Alert.District != "tp-thai-nguyen" {
		t.Fatalf("raised %+v", raised.Alert)
	}
	wall.wait(t, 5*time.Second, func(f *frame) bool { return f.Type == "device" && f.Device.ID == dev && f.Device.Health == "degraded" })

	var alerts struct{ Alerts []alertJSON }
	viewer.get("/api/v1/alerts?severity=critical&district=tp-thai-nguyen", &alerts)
	if len(alerts.Alerts) != 1 || alerts.Alerts[0].ID != id {
		t.Fatalf("GET /api/v1/alerts: %+v", alerts)
	}

	path := "/api/v1/alerts/" + id + "/ack"
	t.Run("roles, CSRF and origin", func(t *testing.T) {
		for _, c := range []struct {
			name   string
			u      *user
			header []string
			want   int
		}{
			{"viewer may not acknowledge", viewer, nil, 403},
			{"no CSRF token", login(t, base, "technician"), []string{"X-CSRF-Token", ""}, 403},
			{"another site's origin", login(t, base, "technician"), []string{"Origin", "http://evil.example"}, 403},
			{"no session", &user{t: t, base: base, c: &http.Client{}}, nil, 401},
		} {
			status, body := c.u.do("POST", path, map[string]string{"note": "x"}, c.header...)
			if status != c.want {
				t.Errorf("%s: %d %s, want %d", c.name, status, body, c.want)
			}
		}
	})

	tech := login(t, base, "technician")
	if status, body := tech.do("POST", path, map[string]string{"note": "đang đến hiện trường"}); status != 200 {
		t.Fatalf("ack: %d %s", status, body)
	}
	acked := wall.wait(t, 3*time.Second, func(f *frame) bool { return f.Type == "alert" && f.Alert.ID == id && f.Alert.Ack != nil })
	if acked.Alert.Ack.By != "technician" || acked.Alert.Ack.Note != "đang đến hiện trường" {
		t.Fatalf("ack on the wall: %+v", acked.Alert.Ack)
	}
	if status, body := tech.do("POST", "/api/v1/alerts/"+id+"/resolve", map[string]string{"note": ""}); status != 400 || !strings.Contains(string(body), "note") {
		t.Fatalf("resolve without a note: %d %s", status, body)
	}
	if status, body := tech.do("POST", "/api/v1/alerts/"+id+"/resolve", map[string]string{"note": "đã kiểm tra, cảm biến bị lệch"}); status != 200 {
		t.Fatalf("resolve: %d %s", status, body)
	}
	wall.wait(t, 3*time.Second, func(f *frame) bool { return f.Type == "alert_cleared" && f.Alert.ID == id })

	// Deltas arrive in order, each after the snapshot.
	last := snap.Seq
	for _, f := range wall.all()[1:] {
		if f.Seq <= last {
			t.Fatalf("delta seq %d after %d", f.Seq, last)
		}
		last = f.Seq
	}

	t.Run("alert history", func(t *testing.T) {
		var h struct {
			Entries []struct{ Transition, By, Note string }
		}
		testenv.Eventually(t, 5*time.Second, func() error {
			viewer.get("/api/v1/alerts/history?device="+dev+"&from="+url.QueryEscape(start.Format(time.RFC3339)), &h)
			var got []string
			for _, e := range h.Entries {
				got = append(got, e.Transition+":"+e.By+":"+e.Note)
			}
			want := "resolved:technician:đã kiểm tra, cảm biến bị lệch acked:technician:đang đến hiện trường raised::"
			if strings.Join(got, " ") != want {
				return fmt.Errorf("history %q, want %q", got, want)
			}
			return nil
		})
	})

	t.Run("history aggregated in the store", func(t *testing.T) {
		var h struct {
			Window string
			Series []struct {
				Measurement, Field string
				Samples            []struct{ Mean float64 }
			}
		}
		viewer.get("/api/v1/devices/"+dev+"/history?window=1h&from="+url.QueryEscape(start.Add(-time.Hour).Format(time.RFC3339)), &h)
		if h.Window != "1h0m0s" || len(h.Series) != 1 || h.Series[0].Field != "water_level_cm" {
			t.Fatalf("history %+v", h)
		}
		var sum float64
		for _, s := range h.Series[0].Samples {
			sum += s.Mean
		}
		if sum != 112.5 && sum != 225 { // one window (mean 112.5) or the two readings split across an hour boundary
			t.Fatalf("samples %+v: want the mean of 100 and 125", h.Series[0].Samples)
		}
		// 30 days come back in a bounded number of windows.
		viewer.get("/api/v1/devices/"+dev+"/history?from="+url.QueryEscape(time.Now().Add(-30*24*time.Hour).Format(time.RFC3339)), &h)
		if h.Window != "1h0m0s" {
			t.Fatalf("30-day window %s, want 1h (720 windows at most)", h.Window)
		}
	})

	t.Run("audit log", func(t *testing.T) {
		if status, _ := tech.do("GET", "/api/v1/audit", nil); status != 403 {
			t.Fatalf("technician reads the audit log: %d", status)
		}
		var a struct {
			Entries []struct{ Action, User, Alert, Result string }
		}
		login(t, base, "admin").get("/api/v1/audit", &a)
		var got []string
		for _, e := range a.Entries {
			if e.Alert == id {
				got = append(got, e.Action+":"+e.User+":"+e.Result)
			}
		}
		if strings.Join(got, " ") != "resolve:technician:ok ack:technician:ok" {
			t.Fatalf("audit entries for %s: %q", id, got)
		}
	})
}

// TestLoginLimits: wrong passwords are refused without saying which part
// was wrong, repeated attempts are rate-limited, and every API route and
// the stream refuse a request without a session.
func TestLoginLimits(t *testing.T) {
	sys := startIngest(t)
	_, base := startIOCWith(t, iocConfig(t, sys, "login"), iocd.Options{Now: stoppedClock()})
	anon := &user{t: t, base: base, c: &http.Client{}}
	for _, path := range []string{"/api/v1/session", "/api/v1/devices", "/api/v1/alerts", "/api/v1/devices/cam-bvtw-01/history", "/api/v1/alerts/history?device=cam-bvtw-01", "/api/v1/stream"} {
		if status, _ := anon.do("GET", path, nil); status != 401 {
			t.Errorf("GET %s without a session: %d, want 401", path, status)
		}
	}
	var statuses []int
	for i := 0; i < 8; i++ {
		status, _ := anon.do("POST", "/api/v1/login", map[string]string{"username": "operator", "password": "wrong"})
		statuses = append(statuses, status)
	}
	if fmt.Sprint(statuses) != "[401 401 401 401 401 429 429 429]" {
		t.Fatalf("8 wrong logins: %v; want 5 refusals then rate limiting", statuses)
	}
	var s map[string]any
	if status, body := anon.do("POST", "/api/v1/login", map[string]string{"username": "operator", "password": "demo-operator"}); status != 429 {
		_ = json.Unmarshal(body, &s)
		t.Fatalf("the limited pair logs in with the right password: %d %v", status, s)
	}
}
