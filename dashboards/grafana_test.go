package dashboards

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/store/influx"
	"github.com/ioc-vn/ioc/internal/testenv"
)

// TestGrafanaQueriesRunOnInfluxDB runs every panel's Flux query of the
// shipped dashboard against a real InfluxDB holding what ingest and the
// alert service write, with Grafana's variables filled in, and checks each
// answers without error and with data.
func TestGrafanaQueriesRunOnInfluxDB(t *testing.T) {
	if testing.Short() {
		t.Skip("starts influxd")
	}
	b, err := os.ReadFile("grafana/ioc-history.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string
		Panels []struct {
			Title   string
			Targets []struct{ Query string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	in := testenv.StartInflux(t)
	st, err := influx.New(influx.Config{URL: in.URL, Database: in.DB})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	tag := func(p *point.Point, kv ...string) {
		for i := 0; i+1 < len(kv); i += 2 {
			p.SetTag(kv[i], kv[i+1])
		}
	}
	var pts []point.Point
	for i := 0; i < 30; i++ {
		at := now.Add(-time.Duration(i) * time.Minute)
		p := point.Point{Measurement: "telemetry", Time: at, Fields: []point.Field{point.FloatField("water_level_cm", float64(100+i)), point.FloatField("pm25", float64(40+i))}}
		tag(&p, "device", "wl-1", "name", "Trạm 1", "kind", "sensor", "district", "dai-tu")
		c := point.Point{Measurement: "status", Time: at, Fields: []point.Field{point.FloatField("fps", 25), point.FloatField("bitrate_kbps", 2048)}}
		tag(&c, "device", "cam-1", "name", "Camera 1", "kind", "camera", "district", "dai-tu")
		pts = append(pts, p, c)
	}
	for i, tr := range []string{"raised", "acked", "resolved"} {
		a := point.Point{Measurement: "alert", Time: now.Add(-time.Duration(10-i) * time.Minute), Fields: []point.Field{point.IntField("event_seq", int64(i+1)), point.StringField("by", "technician")}}
		tag(&a, "device", "wl-1", "district", "dai-tu", "rule", "water-rising", "severity", "critical", "transition", tr)
		pts = append(pts, a)
	}
	if err := st.Write(context.Background(), pts); err != nil {
		t.Fatal(err)
	}
	client := influxdb2.NewClient(in.URL, "")
	defer client.Close()
	q := client.QueryAPI("")
	vars := "v = {timeRangeStart: " + now.Add(-time.Hour).UTC().Format(time.RFC3339) + ", timeRangeStop: " + now.Add(time.Minute).UTC().Format(time.RFC3339) + ", windowPeriod: 1m}\n"
	if len(dash.Panels) == 0 {
		t.Fatal("no panels")
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			flux := vars + strings.ReplaceAll(tg.Query, "${bucket}", in.DB+"/autogen")
			res, err := q.Query(context.Background(), flux)
			if err != nil {
				t.Errorf("panel %q: %v\n%s", p.Title, err, flux)
				continue
			}
			n := 0
			for res.Next() {
				n++
			}
			if err := res.Err(); err != nil {
				t.Errorf("panel %q: %v", p.Title, err)
			}
			res.Close()
			if n == 0 {
				t.Errorf("panel %q: no data", p.Title)
			}
		}
	}
}
