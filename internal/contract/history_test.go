package contract

import (
	"reflect"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
)

func TestHistoryRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 2, 0, 123456789, time.UTC)
	for name, h := range map[string]History{
		"raised": {At: at, Transition: "raised", Seq: 42, Alert: &AlertHistory{ID: "device-offline/cam-01", Device: "cam-01",
			District: "tp-thai-nguyen", Rule: "device-offline", RuleKind: "silence", Severity: "critical", State: "active", Value: "silent 2m0s",
			MessageVI: "Camera 01 mất kết nối", MessageEN: "Camera 01 is offline", Parent: "device-offline/nvr-01",
			Count: 3, Flaps: 1, Suppressed: true}},
		"acked via its parent": {At: at, Transition: "acked", Seq: 43, By: "van-hanh-1", Note: "Đã báo kỹ thuật",
			Alert: &AlertHistory{ID: "a/b", Device: "b", Rule: "a", Severity: "major", State: "active", AckVia: "a/nvr", Count: 1}},
		"a dispatch step": {At: at, Transition: "on_site", Seq: 46, By: "ky-thuat-1", Note: "Đã đến tủ điện",
			Alert: &AlertHistory{ID: "a/b", Device: "b", Rule: "a", Severity: "critical", State: "active", Assignee: "team:doi-d1", Count: 1}},
		"maintenance with an end": {At: at, Transition: "maintenance_started", Seq: 44, By: "truc-ban", Note: "Cắt điện",
			Maintenance: &MaintenanceHistory{Target: "district:vo-nhai", Until: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC),
				Since: time.Date(2026, 11, 23, 10, 2, 0, 0, time.UTC)}},
		"maintenance without an end": {At: at, Transition: "maintenance_ended", Seq: 45,
			Maintenance: &MaintenanceHistory{Target: "device:cam-01", Since: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}},
	} {
		t.Run(name, func(t *testing.T) {
			p := h.Point()
			got, err := ParseHistory(&p)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, h) {
				t.Fatalf("round trip:\n got %+v %+v %+v\nwant %+v %+v %+v", got, got.Alert, got.Maintenance, h, h.Alert, h.Maintenance)
			}
			// Through line protocol too, as a store keeps it.
			if line := point.AppendLine(nil, &p); len(line) == 0 {
				t.Fatal("empty line")
			}
		})
	}
}

// TestHistoryPointShape pins the stored schema docs/ALERTS.md documents:
// the Grafana dashboards and the API's alert history read these keys.
func TestHistoryPointShape(t *testing.T) {
	h := History{At: time.Unix(1795402800, 0), Transition: "raised", Seq: 7, Alert: &AlertHistory{ID: "r/d", Device: "d",
		District: "x", Rule: "r", Severity: "minor", State: "active", Value: "3.5", Count: 1}}
	p := h.Point()
	want := `alert,device=d,district=x,rule=r,severity=minor,transition=raised event_seq=7i,id="r/d",state="active",value="3.5",count=1i,flaps=0i,suppressed=false 1795402800000000000`
	if got := string(point.AppendLine(nil, &p)); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestParseHistoryReadsFloatCounts(t *testing.T) {
	p := point.Point{Measurement: AlertMeasurement, Fields: []point.Field{point.FloatField("event_seq", 9), point.FloatField("count", 2)}}
	h, err := ParseHistory(&p)
	if err != nil || h.Seq != 9 || h.Alert.Count != 2 {
		t.Fatalf("got %+v %+v, %v", h, h.Alert, err)
	}
	if _, err := ParseHistory(&point.Point{Measurement: "telemetry"}); err == nil {
		t.Fatal("a telemetry point was read as history")
	}
}
