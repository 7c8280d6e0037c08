package payload

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
)

var now = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func ms(v int64) time.Time { return time.UnixMilli(v) }

// render prints points in a compact, order-preserving form for comparison.
func render(pts []point.Point) string {
	var b strings.Builder
	for i := range pts {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.Write(point.AppendLine(nil, &pts[i]))
	}
	return b.String()
}

func TestParseAccepts(t *testing.T) {
	nowNS := "1795428000000000000"
	f := func(ch Channel, in, want string) {
		t.Helper()
		p := NewParser(DefaultLimits)
		got, err := p.Parse(nil, ch, "cam-01", []byte(in), now)
		if err != nil {
			t.Fatalf("Parse(%s, %q): %v", ch, in, err)
		}
		if r := render(got); r != want {
			t.Fatalf("Parse(%s, %q):\n got %s\nwant %s", ch, in, r, want)
		}
	}
	// JSON object telemetry: numbers are floats, ts in unix ms or RFC 3339.
	f(Telemetry, `{"ts": 1795427990123, "pm25": 35.2, "temp": 31.5, "door_open": false, "note": "ok"}`,
		`telemetry pm25=35.2,temp=31.5,door_open=false,note="ok" 1795427990123000000`)
	f(Telemetry, `{"pm25": 12}`, `telemetry pm25=12 `+nowNS)
	f(Telemetry, `{"ts": "2026-11-23T16:59:00+07:00", "water_level_cm": 182.5}`, `telemetry water_level_cm=182.5 1795427940000000000`)
	f(Telemetry, `  {"tên": "Cầu Gia Bảy"}  `, `telemetry tên="Cầu Gia Bảy" `+nowNS)
	// SenML: base name, base time, relative times, sums, string and bool values.
	f(Telemetry, `[{"bn":"urn:dev:mac:0024befffe804ff1:","bt":1795427990,"n":"pm25","u":"ug/m3","v":35.2},{"n":"pm10","v":51},{"n":"pm25","t":5,"v":36}]`,
		"telemetry pm25=35.2,pm10=51 1795427990000000000\ntelemetry pm25=36 1795427995000000000")
	f(Telemetry, `[{"n":"temp","v":30.5,"t":-10},{"n":"on","vb":true,"t":-10},{"n":"mode","vs":"auto"}]`,
		"telemetry temp=30.5,on=true 1795427990000000000\ntelemetry mode=\"auto\" "+nowNS)
	f(Telemetry, `[{"bn":"meter","bv":100,"bs":5,"v":2,"s":1}]`, `telemetry meter=102,meter_sum=6 `+nowNS)
	f(Telemetry, `[{"bn":"level","bv":7}]`, `telemetry level=7 `+nowNS)
	// Line protocol: the line's measurement and tags; the topic's device.
	f(Telemetry, "air,sensor=pm pm25=35.2,ok=true 1795427990000000000\n\n# comment\nair pm10=51i,note=\"a b\"",
		"air,sensor=pm pm25=35.2,ok=true 1795427990000000000\nair pm10=51i,note=\"a b\" "+nowNS)
	f(Telemetry, "air,device=cam-01 pm25=1", `air pm25=1 `+nowNS)
	f(Telemetry, "air count=7u", `air count=7i `+nowNS)
	// Status and event.
	f(Status, `{"ts": 1795427990123, "state": "online", "recording": true, "fps": 25, "bitrate_kbps": 2048, "storage_pct": 83.5, "tamper": false}`,
		`status state="online",recording=true,fps=25,bitrate_kbps=2048,storage_pct=83.5,tamper=false 1795427990123000000`)
	f(Status, `{"state":"offline"}`, `status state="offline" `+nowNS)
	f(Event, `{"type":"tamper","zone":"gate 2"}`, `event,type=tamper zone="gate 2",count=1 `+nowNS)
	f(Event, `{"type":"motion","count":3}`, `event,type=motion count=3 `+nowNS)
}

func TestParseRejects(t *testing.T) {
	f := func(ch Channel, in string, want Reason, detail string) {
		t.Helper()
		p := NewParser(DefaultLimits)
		dst := []point.Point{{Measurement: "keep"}}
		got, err := p.Parse(dst, ch, "cam-01", []byte(in), now)
		var pe *Error
		if !errors.As(err, &pe) {
			t.Fatalf("Parse(%s, %.60q) = %v, want *Error %s", ch, in, err, want)
		}
		if pe.Reason != want {
			t.Fatalf("Parse(%s, %.60q) reason %s (%s), want %s", ch, in, pe.Reason, pe.Detail, want)
		}
		if !strings.Contains(pe.Detail, detail) {
			t.Fatalf("Parse(%s, %.60q) detail %q does not mention %q", ch, in, pe.Detail, detail)
		}
		if len(got) != 1 || got[0].Measurement != "keep" {
			t.Fatalf("Parse(%s, %.60q) changed dst on error: %v", ch, in, got)
		}
	}
	f(Telemetry, "", ReasonEmpty, "empty")
	f(Telemetry, " \n\t", ReasonEmpty, "empty")
	f(Telemetry, strings.Repeat("a", DefaultLimits.MaxBytes+1), ReasonTooLarge, "limit is 262144")
	f(Telemetry, "{\"note\": \"\xff\"}", ReasonInvalidUTF8, "offset 10")
	f(Telemetry, `{"pm25": 35.2`, ReasonMalformedJSON, "")
	f(Telemetry, `{"pm25": NaN}`, ReasonNonFinite, `"pm25"`)
	f(Telemetry, `{"pm25": Infinity}`, ReasonMalformedJSON, "")
	f(Telemetry, `{"pm25": 1e999}`, ReasonNonFinite, `"pm25"`)
	f(Telemetry, `{"pm25": null}`, ReasonWrongType, "null")
	f(Telemetry, `{"gps": {"lat": 21.6}}`, ReasonWrongType, "gps_x")
	f(Telemetry, `{"list": [1,2]}`, ReasonWrongType, "array")
	f(Telemetry, `{"ts": 1795427990123}`, ReasonMissingField, "no readings")
	f(Telemetry, `{"ts": true, "a": 1}`, ReasonWrongType, "ts must be")
	f(Telemetry, `{"ts": "yesterday", "a": 1}`, ReasonWrongType, "RFC 3339")
	f(Telemetry, `{"ts": 1000, "a": 1}`, ReasonTimeOutOfRange, "before the server clock")
	f(Telemetry, `{"ts": 1895427990123, "a": 1}`, ReasonTimeOutOfRange, "after the server clock")
	f(Telemetry, `{"a": 1, "a": 2}`, ReasonMalformedJSON, "twice")
	f(Telemetry, `{"_secret": 1}`, ReasonInvalidKey, "reserved")
	f(Telemetry, `{"device": "cam-99"}`, ReasonInvalidKey, "registry")
	f(Telemetry, `{"": 1}`, ReasonInvalidKey, "empty")
	f(Telemetry, `{"a\u0001b": 1}`, ReasonInvalidKey, "control")
	f(Telemetry, `[]`, ReasonMalformedSenML, "non-empty")
	f(Telemetry, `[1]`, ReasonMalformedSenML, "record 0")
	f(Telemetry, `[{"n":"a"}]`, ReasonMissingField, "no value")
	f(Telemetry, `[{"n":"a","v":1,"vs":"x"}]`, ReasonMalformedSenML, "more than one")
	f(Telemetry, `[{"n":"a","v":"1"}]`, ReasonWrongType, "v must be a number")
	f(Telemetry, `[{"n":"a","vb":1}]`, ReasonWrongType, "vb")
	f(Telemetry, `[{"v":1}]`, ReasonMalformedSenML, "no name")
	f(Telemetry, `[{"n":"-bad","v":1}]`, ReasonInvalidKey, "RFC 8428")
	f(Telemetry, `[{"n":"a","v":1,"x_":2}]`, ReasonMalformedSenML, "must-understand")
	f(Telemetry, `[{"n":"a","v":1},{"n":"a","v":2}]`, ReasonMalformedSenML, "two values")
	f(Telemetry, `[{"n":"a","v":1,"bt":1000000000}]`, ReasonTimeOutOfRange, "before")
	f(Telemetry, `[{"n":"a","bv":1e308,"v":1e308}]`, ReasonNonFinite, "overflows")
	f(Telemetry, "air pm25=", ReasonMalformedLine, "line 1")
	f(Telemetry, "air pm25=1\nair pm25=1 x", ReasonMalformedLine, "line 2")
	f(Telemetry, "air pm25=1 1795427990", ReasonTimeOutOfRange, "counted in seconds, but line protocol timestamps are nanoseconds")
	f(Telemetry, "air pm25=1 1795427990123", ReasonTimeOutOfRange, "counted in milliseconds, but line protocol timestamps are nanoseconds")
	// The usual unit mistakes are named (integrator review: bt in
	// milliseconds was refused as "1677-09-21 … before the server clock").
	f(Telemetry, `[{"n":"a","v":1,"bt":1795427990123}]`, ReasonTimeOutOfRange, "counted in milliseconds, but SenML times (bt, t) are seconds")
	f(Telemetry, `[{"n":"a","v":1,"bt":1795427990000,"t":123}]`, ReasonTimeOutOfRange, "counted in milliseconds")
	f(Telemetry, `{"ts": 1795427990, "a": 1}`, ReasonTimeOutOfRange, "counted in seconds, but ts is unix milliseconds")
	f(Telemetry, `{"ts": 1795427990123456, "a": 1}`, ReasonTimeOutOfRange, "counted in microseconds, but ts is unix milliseconds")
	f(Telemetry, "air,district=x pm25=1", ReasonInvalidKey, `tag "district"`)
	f(Telemetry, "air,device=cam-99 pm25=1", ReasonInvalidKey, `tag "device"`)
	f(Telemetry, "air pm25=1,pm25=2", ReasonMalformedLine, "twice")
	f(Telemetry, "air big=18446744073709551615u", ReasonWrongType, "does not fit")
	f(Telemetry, "air x=1e999", ReasonNonFinite, "")
	f(Telemetry, "_air x=1", ReasonInvalidKey, "reserved")
	f(Telemetry, strings.Repeat("a x=1\n", DefaultLimits.MaxPoints+1), ReasonTooManyPoints, "lines")
	// Devices write only through their channels (security review F7).
	f(Telemetry, `alert,transition=resolved,rule=device-offline,severity=critical id="device-offline/aq-tp-01",state="resolved",by="admin",note="forged"`,
		ReasonReservedMeasurement, `line 1: measurement "alert" is the operations centre's alert history`)
	f(Telemetry, `alert event_seq="x"`, ReasonReservedMeasurement, "alert history")
	f(Telemetry, "air x=1\nmaintenance,target=district:vo-nhai since=\"now\"", ReasonReservedMeasurement, `line 2: measurement "maintenance"`)
	f(Telemetry, "event,type=tamper count=1", ReasonReservedMeasurement, "event channel")
	f(Telemetry, `status state="offline"`, ReasonReservedMeasurement, "status channel")
	f(Telemetry, `status state="exploded",storage_pct=250`, ReasonReservedMeasurement, "status channel")
	// Cardinality (security review F12): tags per line and tag value bytes.
	var tags strings.Builder
	tags.WriteString("air")
	for i := 0; i <= DefaultLimits.MaxTags; i++ {
		tags.WriteString(",t" + strconv.Itoa(i) + "=v")
	}
	f(Telemetry, tags.String()+" x=1", ReasonTooManyTags, "more than 16 tags")
	f(Telemetry, "air,device=cam-01"+strings.Repeat(",t=v", 1)+" x=1\nair,id="+strings.Repeat("v", 257)+" x=1", ReasonTagTooLong, `line 2: tag "id": value of 257 bytes; the limit is 256`)
	f(Status, `status state="offline"`, ReasonMalformedJSON, "JSON object")
	f(Event, "event,type=tamper count=1", ReasonMalformedJSON, "JSON object")
	f(Status, `[{"n":"a","v":1}]`, ReasonMalformedJSON, "JSON object")
	f(Status, `{"state": "broken"}`, ReasonInvalidValue, "online, offline, degraded")
	f(Status, `{"recording": "yes"}`, ReasonWrongType, `"recording" must be a boolean`)
	f(Status, `{"storage_pct": 120}`, ReasonInvalidValue, "0..100")
	f(Status, `{"fps": -1}`, ReasonInvalidValue, "negative")
	f(Event, `{"zone": "gate"}`, ReasonMissingField, `"type"`)
	f(Event, `{"type": 3}`, ReasonWrongType, "string")
	f(Event, `{"type": "Motion Detected"}`, ReasonInvalidValue, "lower-case")
	f(Event, `{"type": "motion", "count": "x"}`, ReasonWrongType, "count")
	f("video", `{"a":1}`, ReasonUnknownChannel, "video")

	var b strings.Builder
	b.WriteString("{")
	for i := 0; i <= DefaultLimits.MaxFields; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"f` + strconv.Itoa(i) + `":1`)
	}
	b.WriteString("}")
	f(Telemetry, b.String(), ReasonTooManyFields, "200")
}

func TestParseReusesDestination(t *testing.T) {
	p := NewParser(DefaultLimits)
	buf := make([]point.Point, 0, 4)
	buf, err := p.Parse(buf, Telemetry, "d", []byte(`{"a":1,"b":2,"c":3}`), now)
	if err != nil {
		t.Fatal(err)
	}
	buf = buf[:0]
	buf, err = p.Parse(buf, Telemetry, "d", []byte(`{"z":1}`), now)
	if err != nil {
		t.Fatal(err)
	}
	if got := render(buf); got != "telemetry z=1 1795428000000000000" {
		t.Fatalf("reused point kept old fields: %s", got)
	}
}

func TestJSONTimeFractionalMillis(t *testing.T) {
	p := NewParser(DefaultLimits)
	got, err := p.Parse(nil, Telemetry, "d", []byte(`{"ts": 1795427990123.5, "a": 1}`), now)
	if err != nil {
		t.Fatal(err)
	}
	if want := ms(1795427990123).Add(500 * time.Microsecond); !got[0].Time.Equal(want) {
		t.Fatalf("time %v, want %v", got[0].Time, want)
	}
}

func TestUsedNow(t *testing.T) {
	f := func(in string, want bool) {
		t.Helper()
		p := NewParser(DefaultLimits)
		if _, err := p.Parse(nil, Telemetry, "d", []byte(in), now); err != nil {
			t.Fatal(err)
		}
		if p.UsedNow != want {
			t.Fatalf("Parse(%q).UsedNow = %v, want %v", in, p.UsedNow, want)
		}
	}
	f(`{"a":1}`, true)
	f(`{"ts":1795427990123,"a":1}`, false)
	f(`[{"n":"a","v":1,"t":1795427990}]`, false)
	f(`[{"n":"a","v":1,"t":-5}]`, true)
	f("m a=1 1795427990000000000", false)
	f("m a=1 1795427990000000000\nm a=2", true)
}

// TestGatewayPayloads: a SenML pack whose base names name devices
// ("<id>:" or "<id>/") and a JSON batch give each point its device;
// base names that are the topic's device, URNs and field names do not.
func TestGatewayPayloads(t *testing.T) {
	nowNS := "1795428000000000000"
	for _, tc := range []struct {
		name, ch, in, want string
		devs               []string // nil: all the topic's
	}{
		{"senml several devices", "telemetry",
			`[{"bn":"aq-1:","bt":1795427990,"n":"pm25","v":35},{"n":"pm10","v":50},{"bn":"aq-2/","n":"pm25","v":12},{"bn":"gw-1:","n":"rssi","v":-70}]`,
			"telemetry pm25=35,pm10=50 1795427990000000000\ntelemetry pm25=12 1795427990000000000\ntelemetry rssi=-70 1795427990000000000",
			[]string{"aq-1", "aq-2", ""}},
		{"senml same instant, two devices, two points", "telemetry",
			`[{"bn":"aq-1:","n":"pm25","v":1},{"bn":"aq-2:","n":"pm25","v":2}]`,
			"telemetry pm25=1 " + nowNS + "\ntelemetry pm25=2 " + nowNS, []string{"aq-1", "aq-2"}},
		{"senml topic device and URN stay the topic's", "telemetry",
			`[{"bn":"gw-1:","n":"a","v":1},{"bn":"urn:dev:mac:0024befffe804ff1:","n":"b","v":2},{"bn":"level","v":3}]`,
			"telemetry a=1,b=2,level=3 " + nowNS, nil},
		{"json batch", "telemetry",
			`{"batch": [{"device": "aq-1", "ts": 1795427990123, "pm25": 35.2}, {"device": "gw-1", "rssi": -70}]}`,
			"telemetry pm25=35.2 1795427990123000000\ntelemetry rssi=-70 " + nowNS, []string{"aq-1", "gw-1"}},
		{"json batch of statuses", "status",
			`{"batch": [{"device": "cam-1", "state": "online", "fps": 25}, {"device": "cam-2", "state": "offline"}]}`,
			"status state=\"online\",fps=25 " + nowNS + "\nstatus state=\"offline\" " + nowNS, []string{"cam-1", "cam-2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewParser(DefaultLimits)
			got, err := p.Parse(nil, Channel(tc.ch), "gw-1", []byte(tc.in), now)
			if err != nil {
				t.Fatal(err)
			}
			if r := render(got); r != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", r, tc.want)
			}
			if strings.Join(p.Devices, ",") != strings.Join(tc.devs, ",") || (p.Devices == nil) != (tc.devs == nil) {
				t.Fatalf("devices %q, want %q", p.Devices, tc.devs)
			}
		})
	}
	for _, tc := range []struct {
		ch, in string
		reason Reason
		detail string
	}{
		{"telemetry", `{"batch": [{"pm25": 1}]}`, ReasonMissingField, "batch[0]: no device"},
		{"telemetry", `{"batch": [{"device": 7, "pm25": 1}]}`, ReasonWrongType, "batch[0]: device must be"},
		{"telemetry", `{"batch": []}`, ReasonMissingField, "batch is empty"},
		{"telemetry", `{"batch": [1]}`, ReasonMalformedJSON, "batch[0] is not a JSON object"},
		{"status", `{"batch": [{"device": "c", "state": "asleep"}]}`, ReasonInvalidValue, "batch[0]: "},
		{"telemetry", `[{"bn":"aq-1:","v":1}]`, ReasonMissingField, `names device "aq-1"; give the reading's name in n`},
	} {
		p := NewParser(DefaultLimits)
		_, err := p.Parse(nil, Channel(tc.ch), "gw-1", []byte(tc.in), now)
		var pe *Error
		if !errors.As(err, &pe) || pe.Reason != tc.reason || !strings.Contains(pe.Detail, tc.detail) {
			t.Errorf("Parse(%s): %v; want %s mentioning %q", tc.in, err, tc.reason, tc.detail)
		}
		if p.Devices != nil {
			t.Errorf("Parse(%s) refused, but Devices = %q", tc.in, p.Devices)
		}
	}
}
