package iocd_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// BenchmarkWallRender measures the 4K wall's render of one delta in
// headless Chromium during a storm: 2,000 open alerts (1,000 of them
// folded under 100 recorders' alerts) and 4,000 cameras behind 400
// recorders. Each iteration applies one alert delta to the page's live
// picture (a camera alert raised, acknowledged or resolved, in turn, with
// the camera's device state) and times, with performance.now(), the
// wall's render plus the style and layout the browser needs to show it.
// p50, p99 and max are reported in ms; one frame is 16.7 ms. The map is
// redrawn at most once a second, outside that frame; map-ms is the median
// of 5 redraws of its 4,000+ markers.
//
//	go test -run '^$' -bench WallRender -benchtime 300x ./internal/iocd/
func BenchmarkWallRender(b *testing.B) {
	sys := startIngest(b)
	base := startIOC(b, iocConfig(b, sys, "render"))
	wall := chrome(b, 3840, 2160)
	loginPage(b, wall, base, "operator", "/wall/", `body[data-connected="yes"]`)
	var setup string
	run(b, wall, 60*time.Second, chromedp.Evaluate(`(() => {
		const L = iocLive, now = Date.now(), districts = [...L.districts.keys()];
		for (let r = 0; r < 400; r++) {
			const nvr = "nvr-b" + String(r).padStart(3, "0"), district = districts[r % districts.length];
			L.devices.set(nvr, {id: nvr, kind: "nvr", name: "Đầu ghi thử nghiệm " + r, district, status: "online", health: "ok", alerts: [], lat: 21.5 + r / 1000, lon: 105.8});
			for (let c = 0; c < 10; c++) {
				const id = nvr + "-cam-" + String(c + 1).padStart(2, "0");
				L.devices.set(id, {id, kind: "camera", parent: nvr, name: "Camera " + String(c + 1).padStart(2, "0") + " thử nghiệm " + r, district,
					status: "online", health: "ok", alerts: [], lat: 21.5 + r / 1000, lon: 105.8 + c / 1000});
			}
		}
		let n = 0;
		const alert = (device, parent, severity) => {
			const d = L.devices.get(device), id = "bench/" + device;
			L.alerts.set(id, {id, rule: "bench", device, district: d.district, severity, state: "active", parent: parent || undefined,
				raised_at: new Date(now - n * 1000).toISOString(), count: 1, message: {vi: d.name + ": phá hoại, che ống kính", en: d.name + ": tampering"}});
			n++;
		};
		for (let r = 0; r < 100; r++) {
			const nvr = "nvr-b" + String(r).padStart(3, "0");
			alert(nvr, "", "critical");
			for (let c = 1; c <= 10; c++) alert(nvr + "-cam-" + String(c).padStart(2, "0"), "bench/" + nvr, "critical");
		}
		for (let r = 100; r < 400 && n < 2000; r++) for (let c = 1; c <= 10 && n < 2000; c++) alert("nvr-b" + String(r).padStart(3, "0") + "-cam-" + String(c).padStart(2, "0"), "", ["major", "minor", "critical"][c % 3]);
		iocWall.render();
		return JSON.stringify({alerts: L.alerts.size, cameras: [...L.devices.values()].filter((d) => d.kind === "camera").length});
	})()`, &setup))
	b.Logf("picture: %s", setup)
	var sizes struct{ Alerts, Cameras int }
	if err := json.Unmarshal([]byte(setup), &sizes); err != nil || sizes.Alerts < 2000 || sizes.Cameras < 4000 {
		b.Fatalf("storm not set up: %s %v", setup, err)
	}
	lat := make([]float64, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var ms float64
		run(b, wall, 10*time.Second, chromedp.Evaluate(fmt.Sprintf(`(() => {
			const L = iocLive, i = %d, r = 100 + (Math.floor(i / 3) %% 300), cam = "nvr-b" + String(r).padStart(3, "0") + "-cam-10", id = "bench/" + cam;
			const d = L.devices.get(cam);
			let m;
			switch (i %% 3) {
			case 0: m = {type: "alert", seq: L.seq + 1, alert: {id, rule: "bench", device: cam, district: d.district, severity: "critical", state: "active",
				raised_at: new Date().toISOString(), count: 1, message: {vi: d.name + ": mất tín hiệu", en: d.name + ": signal lost"}}}; break;
			case 1: { const a = L.alerts.get(id); m = {type: "alert", seq: L.seq + 1, alert: Object.assign({}, a, {ack: {by: "operator", at: new Date().toISOString()}})}; break; }
			default: m = {type: "alert_cleared", seq: L.seq + 1, alert: L.alerts.get(id)};
			}
			L.handle(m);
			// the camera's state changes with its alert
			L.handle({type: "device", seq: L.seq + 1, device: Object.assign({}, d, {severity: i %% 3 === 2 ? undefined : "critical", updated_at: new Date().toISOString()})});
			const t0 = performance.now();
			iocWall.frame(); // the frame the delta asked for, drawn now
			void document.body.offsetHeight; // style and layout of what changed
			return performance.now() - t0;
		})()`, i), &ms))
		lat = append(lat, ms)
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return lat[int(p*float64(len(lat)-1))] }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
	b.ReportMetric(0, "ns/op")
	// The map is redrawn at most once a second, outside the delta's frame.
	var mapMS float64
	run(b, wall, 30*time.Second, chromedp.Evaluate(`(() => { const x = []; for (let i = 0; i < 5; i++) { const t0 = performance.now(); iocWall.renderMap(); void document.body.offsetHeight; x.push(performance.now() - t0); } return x.sort((a, b) => a - b)[2]; })()`, &mapMS))
	b.ReportMetric(mapMS, "map-ms")
}
