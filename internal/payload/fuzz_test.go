package payload

import (
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ioc-vn/ioc/internal/point"
)

// FuzzParse checks that no payload panics the parser and that whatever it
// accepts is storable: valid names, finite values, a time inside the window,
// and a line-protocol encoding that parses back to the same points.
func FuzzParse(f *testing.F) {
	seeds := []struct {
		ch Channel
		in string
	}{
		{Telemetry, `{"ts": 1795427990123, "pm25": 35.2, "temp": 31.5, "door_open": false, "note": "ok"}`},
		{Telemetry, `{"ts": "2026-11-23T16:59:00+07:00", "water_level_cm": 182.5}`},
		{Telemetry, `[{"bn":"urn:dev:mac:0024befffe804ff1:","bt":1795427990,"n":"pm25","u":"ug/m3","v":35.2},{"n":"pm10","v":51},{"n":"pm25","t":5,"v":36}]`},
		{Telemetry, `[{"bn":"meter","bv":100,"bs":5,"v":2,"s":1},{"n":"on","vb":true},{"n":"x","vd":"aGk"}]`},
		{Telemetry, "air,sensor=pm pm25=35.2,ok=true 1795427990000000000\nair pm10=51i,note=\"a \\\"b\\\"\"\n"},
		{Telemetry, "air,a\\ b=c\\,d x\\=y=1u"},
		{Status, `{"ts": 1795427990123, "state": "online", "recording": true, "fps": 25, "bitrate_kbps": 2048, "storage_pct": 83.5, "tamper": false}`},
		{Event, `{"type":"tamper","zone":"gate 2"}`},
		// A gateway's: a SenML pack for several devices, a JSON batch.
		{Telemetry, `[{"bn":"aq-1:","bt":1795427990,"n":"pm25","v":35},{"bn":"dev-1/","n":"rssi","v":-70},{"bn":"aq-2:","n":"pm25","v":12}]`},
		{Status, `{"batch": [{"device": "cam-1", "state": "online"}, {"device": "cam-2", "ts": 1795427990123, "state": "offline"}]}`},
		// Reserved measurements (refused): the server's and the channels'.
		{Telemetry, `alert,transition=resolved,rule=x,severity=critical by="admin",note="forged"`},
		{Telemetry, "event,type=tamper count=1"},
		{Telemetry, `status state="exploded",storage_pct=250`},
		{Telemetry, "air x=1\nmaintenance,target=district:a since=\"now\""},
		{Status, `status state="offline"`},
		{Telemetry, "air,a=1,b=2,c=3,d=4,e=5,f=6,g=7,h=8,i=9,j=10,k=11,l=12,m=13,n=14,o=15,p=16,q=17 x=1"},
		{Telemetry, "air,id=" + strings.Repeat("v", 300) + " x=1"},
	}
	for _, s := range seeds {
		f.Add(string(s.ch), []byte(s.in))
	}
	p := NewParser(DefaultLimits)
	lp := NewParser(DefaultLimits)
	f.Fuzz(func(t *testing.T, ch string, in []byte) {
		pts, err := p.Parse(nil, Channel(ch), "dev-1", in, now)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T %v is not a *Error", err, err)
			}
			if len(pts) != 0 || p.Devices != nil {
				t.Fatalf("error with %d points and devices %q", len(pts), p.Devices)
			}
			return
		}
		if p.Devices != nil && len(p.Devices) != len(pts) {
			t.Fatalf("%d points but %d devices", len(pts), len(p.Devices))
		}
		var enc []byte
		for i := range pts {
			pt := &pts[i]
			if reservedMeasurement(pt.Measurement) != "" && pt.Measurement != ch {
				t.Fatalf("point %d writes reserved measurement %q from channel %s", i, pt.Measurement, ch)
			}
			if pt.Measurement == "" || len(pt.Fields) == 0 {
				t.Fatalf("point %d has no measurement or fields: %+v", i, pt)
			}
			if pt.Time.Before(now.Add(-DefaultLimits.MaxPast)) || pt.Time.After(now.Add(DefaultLimits.MaxFuture)) {
				t.Fatalf("point %d time %v outside window", i, pt.Time)
			}
			if len(pt.Tags) > DefaultLimits.MaxTags {
				t.Fatalf("point %d has %d tags", i, len(pt.Tags))
			}
			for _, tg := range pt.Tags {
				if len(tg.Value) > DefaultLimits.MaxTagBytes {
					t.Fatalf("tag %q of %d bytes", tg.Key, len(tg.Value))
				}
			}
			for _, fl := range pt.Fields {
				if fl.Kind == point.Float && (math.IsNaN(fl.F) || math.IsInf(fl.F, 0)) {
					t.Fatalf("non-finite field %q", fl.Key)
				}
				if !utf8.ValidString(fl.Key) || (fl.Kind == point.String && !utf8.ValidString(fl.S)) {
					t.Fatalf("invalid UTF-8 in field %q", fl.Key)
				}
			}
			if i > 0 {
				enc = append(enc, '\n')
			}
			// Status and event points are reserved for their channels;
			// round-trip them under another measurement name.
			rt := *pt
			if reservedMeasurement(rt.Measurement) != "" {
				rt.Measurement = roundTripPrefix + rt.Measurement
			}
			enc = point.AppendLine(enc, &rt)
		}
		back, err := lp.Parse(nil, Telemetry, "dev-1", enc, now)
		if err != nil {
			t.Fatalf("encoding of accepted input does not parse back: %v\n%s", err, enc)
		}
		if len(back) != len(pts) {
			t.Fatalf("round trip: %d points, want %d", len(back), len(pts))
		}
		for i := range back {
			back[i].Measurement = strings.TrimPrefix(back[i].Measurement, roundTripPrefix)
		}
		for i := range pts {
			if !samePoint(&pts[i], &back[i]) {
				t.Fatalf("round trip changed point %d:\n got %+v\nwant %+v\nline %s", i, back[i], pts[i], enc)
			}
		}
	})
}

const roundTripPrefix = "rt."

func samePoint(a, b *point.Point) bool {
	if a.Measurement != b.Measurement || !a.Time.Equal(b.Time) || len(a.Tags) != len(b.Tags) || len(a.Fields) != len(b.Fields) {
		return false
	}
	for i := range a.Tags {
		if a.Tags[i] != b.Tags[i] {
			return false
		}
	}
	for i := range a.Fields {
		if !a.Fields[i].Equal(b.Fields[i]) {
			return false
		}
	}
	return true
}
