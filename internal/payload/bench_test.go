package payload

import (
	"testing"

	"github.com/ioc-vn/ioc/internal/point"
)

func BenchmarkParse(b *testing.B) {
	cases := []struct {
		name string
		ch   Channel
		in   string
	}{
		{"json", Telemetry, `{"ts": 1795427990123, "pm25": 35.2, "pm10": 51, "temp": 31.5, "door_open": false, "note": "ok"}`},
		{"senml", Telemetry, `[{"bn":"urn:dev:mac:0024befffe804ff1:","bt":1795427990,"n":"pm25","u":"ug/m3","v":35.2},{"n":"pm10","v":51},{"n":"temp","v":31.5}]`},
		{"lineprotocol", Telemetry, "air,sensor=pm pm25=35.2,pm10=51i,temp=31.5,ok=true 1795427990000000000"},
		{"status", Status, `{"ts": 1795427990123, "state": "online", "recording": true, "fps": 25, "bitrate_kbps": 2048, "storage_pct": 83.5, "tamper": false}`},
		{"event", Event, `{"ts": 1795427990123, "type": "intrusion", "zone": "gate 2", "confidence": 0.93}`},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			p := NewParser(DefaultLimits)
			in := []byte(c.in)
			dst := make([]point.Point, 0, 4)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				dst, err = p.Parse(dst[:0], c.ch, "cam-01", in, now)
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
