package iocd_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/iocd"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// offsetClock is wall time moved on by the test: ingest and the IOC
// server share it, so a month passes in a step.
type offsetClock struct{ off atomic.Int64 }

func (c *offsetClock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *offsetClock) advance(d time.Duration) { c.off.Add(int64(d)) }

// TestRetireSilentDevices (issue 17): on a clock the test moves, two
// sensors report, then a month passes and only one reports again. The
// admin's list of devices silent for 30 days names the other, with its
// last data and the days since; retiring both is refused whole (one is
// not silent), retiring the silent one is done: it stays in the registry
// file as retired, its history is still served, it leaves the device
// list and the alerts while the rest of the province's silent devices
// go offline, and its next message is refused with device_retired on
// its integrator's _errors. Brought back, it is served and its data
// stored again. Each step is in the audit log.
func TestRetireSilentDevices(t *testing.T) {
	clk := &offsetClock{}
	dir := t.TempDir()
	copyTo := func(name string) string { return copyConfig(t, dir, name) }
	ic := testenv.IngestConfig(t, configs, "devices.yaml")
	ic.Registry, ic.Credentials = copyTo("devices.yaml"), copyTo("credentials.yaml")
	in := testenv.StartIngest(t, ic, ingestd.Options{Log: quietLog(t), Now: clk.now})
	c := iocConfig(t, &system{Broker: in.Broker, DataDir: in.DataDir}, "retire")
	c.Registry, c.Credentials = ic.Registry, ic.Credentials
	c.IngestReloadURL = "http://" + in.HTTP + "/-/reload"
	_, base := startIOCWith(t, c, iocd.Options{Now: clk.now})

	const gone, alive = "aq-dinhhoa-01", "aq-phubinh-01"
	topic := func(dev string) string { return "ioc/v1/envsense/" + dev + "/telemetry" }
	reports := make(chan string, 100)
	env := paho.NewClient(paho.NewClientOptions().AddBroker(in.Broker).SetClientID("envsense-retire").SetUsername("envsense").
		SetPassword("demo-envsense").SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
	if tok := env.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("envsense: %v", tok.Error())
	}
	defer env.Disconnect(100)
	if tok := env.Subscribe("ioc/v1/envsense/_errors", 1, func(_ paho.Client, m paho.Message) { reports <- string(m.Payload()) }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	send := func(dev, body string) {
		t.Helper()
		if tok := env.Publish(topic(dev), 1, false, body); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", dev, tok.Error())
		}
	}
	send(gone, `{"pm25": 10}`)
	send(alive, `{"pm25": 11}`)
	lastOfGone := clk.now()
	clk.advance(31 * 24 * time.Hour)
	send(alive, `{"pm25": 12}`)

	admin := login(t, base, "admin")
	type row struct {
		ID         string     `json:"id"`
		LastSeen   *time.Time `json:"last_seen"`
		SilentDays int        `json:"silent_days"`
		Retired    *time.Time `json:"retired"`
	}
	var list struct {
		AfterDays int   `json:"after_days"`
		Silent    []row `json:"silent"`
		Retired   []row `json:"retired"`
	}
	admin.get("/api/v1/admin/devices/silent", &list)
	if list.AfterDays != 30 || len(list.Silent) != 1 || list.Silent[0].ID != gone || list.Silent[0].SilentDays != 31 ||
		list.Silent[0].LastSeen == nil || list.Silent[0].LastSeen.Sub(lastOfGone).Abs() > 5*time.Second || len(list.Retired) != 0 {
		t.Fatalf("silent for 30 days: %+v; want only %s, last seen %s, 31 days", list, gone, lastOfGone)
	}

	reg0, _ := os.ReadFile(c.Registry)
	code, body := admin.do("POST", "/api/v1/admin/devices/retire", map[string]any{"devices": []string{gone, alive}})
	var refused struct {
		Code   string   `json:"code"`
		Errors []string `json:"errors"`
	}
	_ = json.Unmarshal(body, &refused)
	if code != http.StatusConflict || refused.Code != "not_silent" || len(refused.Errors) != 1 || !strings.Contains(refused.Errors[0], alive) {
		t.Fatalf("retiring a device that reported today: %d %s, want 409 naming %s", code, body, alive)
	}
	if reg, _ := os.ReadFile(c.Registry); string(reg) != string(reg0) {
		t.Fatal("a refused retirement wrote the registry")
	}

	// The admin retires it on the page, in Vietnamese.
	ctx := chrome(t, 1400, 1000)
	errs := testenv.JSErrors(ctx)
	loginPage(t, ctx, base, "admin", "/admin/devices/", `body[data-loaded="1"]`)
	hcmc, _ := time.LoadLocation("Asia/Ho_Chi_Minh")
	silentRow := `#silent tr[data-id="` + gone + `"]`
	var cells []string
	var asked, statusText string
	run(t, ctx, 30*time.Second,
		chromedp.WaitVisible(silentRow),
		chromedp.Evaluate(`[...document.querySelectorAll('`+silentRow+` td')].slice(1, 6).map((td) => td.textContent)`, &cells),
		chromedp.Evaluate(`window.confirm = (m) => { window.asked = m; return true; }; true`, nil),
		chromedp.Click(silentRow+` .retire-btn`),
		chromedp.WaitVisible(`#retired tr[data-id="`+gone+`"]`),
		chromedp.WaitVisible(`#silent-none`),
		chromedp.Evaluate(`window.asked`, &asked),
		chromedp.Text(`#status`, &statusText))
	screenshot(t, ctx, "admin-retired")
	lastDay := lastOfGone.In(hcmc).Format("02/01/2006")
	if len(cells) != 5 || cells[0] != gone || cells[3] != lastDay || cells[4] != "31" {
		t.Errorf("the silent row: %q; want %s, its name, integrator, last data %s, 31 days", cells, gone, lastDay)
	}
	if !strings.Contains(asked, "Ngừng sử dụng 1 thiết bị ("+gone+")") || statusText != "Đã ngừng sử dụng 1 thiết bị" {
		t.Errorf("the page asked %q and said %q", asked, statusText)
	}
	reg, _ := os.ReadFile(c.Registry)
	for _, l := range strings.Split(string(reg), "\n") {
		if strings.Contains(l, "id: "+gone+",") && !strings.Contains(l, "retired: ") {
			t.Errorf("the registry's line for %s does not say retired: %s", gone, l)
		}
	}
	if code, _ := admin.do("GET", "/api/v1/devices/"+gone, nil); code != http.StatusNotFound {
		t.Errorf("GET the retired device: %d, want 404", code)
	}
	from := lastOfGone.Add(-time.Hour).UTC().Format(time.RFC3339)
	to := lastOfGone.Add(time.Hour).UTC().Format(time.RFC3339)
	var hist struct {
		Series []struct {
			Samples []json.RawMessage `json:"samples"`
		} `json:"series"`
	}
	if code, body := admin.do("GET", "/api/v1/devices/"+gone+"/history?from="+from+"&to="+to, nil); code != http.StatusOK ||
		json.Unmarshal(body, &hist) != nil || len(hist.Series) == 0 {
		t.Errorf("the retired device's history: %d %s, want its reading", code, body)
	}
	var devs struct {
		Devices []struct{ ID string } `json:"devices"`
	}
	admin.get("/api/v1/devices", &devs)
	for _, d := range devs.Devices {
		if d.ID == gone {
			t.Errorf("the device list still counts %s", gone)
		}
	}
	admin.get("/api/v1/admin/devices/silent", &list)
	if len(list.Silent) != 0 || len(list.Retired) != 1 || list.Retired[0].ID != gone || list.Retired[0].Retired == nil {
		t.Errorf("after retiring: %+v; want %s among the retired only", list, gone)
	}

	// The month's silence takes the province's other devices offline; the
	// retired one raises nothing.
	testenv.Eventually(t, 60*time.Second, func() error {
		var al struct {
			Alerts []struct{ Device, Rule, State string } `json:"alerts"`
		}
		admin.get("/api/v1/alerts", &al)
		offline := 0
		for _, a := range al.Alerts {
			if a.Device == gone || strings.HasSuffix(a.Device, ":"+gone) {
				return fmt.Errorf("the retired device has an alert: %+v", a)
			}
			if a.Rule == "device-offline" {
				offline++
			}
		}
		if offline == 0 {
			return fmt.Errorf("no device has gone offline yet")
		}
		return nil
	})

	send(gone, `{"pm25": 13}`)
	select {
	case r := <-reports:
		if !strings.Contains(r, `"reason":"device_retired"`) || !strings.Contains(r, gone) {
			t.Errorf("report for the retired device: %s", r)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no device_retired report on _errors")
	}

	// Brought back on the page.
	run(t, ctx, 30*time.Second,
		chromedp.Reload(),
		chromedp.WaitVisible(`body[data-loaded="1"]`),
		chromedp.Click(`#retired tr[data-id="`+gone+`"] .unretire-btn`),
		chromedp.WaitVisible(`#retired-none`))
	if e := errs(); len(e) > 0 {
		t.Errorf("JavaScript errors: %v", e)
	}
	if code, body := admin.do("GET", "/api/v1/devices/"+gone, nil); code != http.StatusOK {
		t.Errorf("the device brought back is not served: %d %s", code, body)
	}
	send(gone, `{"pm25": 14}`)
	admin.get("/api/v1/admin/devices/silent", &list)
	if len(list.Silent) != 0 || len(list.Retired) != 0 {
		t.Errorf("after bringing it back and a reading: %+v, want no silent or retired device", list)
	}
	select {
	case r := <-reports:
		t.Errorf("a report after bringing the device back: %s", r)
	default:
	}

	var audit struct {
		Entries []struct{ Action, Target, Result string }
	}
	admin.get("/api/v1/audit", &audit)
	var got []string
	for i := len(audit.Entries) - 1; i >= 0; i-- {
		if e := audit.Entries[i]; e.Action != "login" {
			got = append(got, e.Action+" "+e.Target+" "+strings.SplitN(e.Result, ":", 2)[0])
		}
	}
	want := "devices_retire " + gone + "," + alive + " refused|devices_retire " + gone + " ok|device_unretire " + gone + " ok"
	if strings.Join(got, "|") != want {
		t.Errorf("audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.ReplaceAll(want, "|", "\n"))
	}
}
