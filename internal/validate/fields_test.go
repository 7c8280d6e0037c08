package validate

import (
	"strings"
	"testing"

	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/registry"
)

func TestCheckFields(t *testing.T) {
	reg, err := registry.Parse([]byte(`districts: [{id: d1, name: D}]
integrators: [{id: acme, name: A}]
fields:
  sensor:
    telemetry:
      pm25: {type: float, unit: µg/m³}
      trend: string
      lamp_on: bool
    river:
      rain_mm: {type: int, unit: mm}
`))
	if err != nil {
		t.Fatal(err)
	}
	f := func(kind registry.Kind, m string, in point.Field, want point.Field, detail string) {
		t.Helper()
		pts := []point.Point{{Measurement: m, Fields: []point.Field{in}}}
		pe := Fields(reg, kind, pts)
		if detail != "" {
			if pe == nil || pe.Reason != payload.ReasonWrongType || !strings.Contains(pe.Detail, detail) {
				t.Fatalf("%s %s.%v: %v; want wrong_type mentioning %q", kind, m, in, pe, detail)
			}
			return
		}
		if pe != nil {
			t.Fatalf("%s %s.%v: %v", kind, m, in, pe)
		}
		if !pts[0].Fields[0].Equal(want) {
			t.Fatalf("%s %s.%v stored as %v, want %v", kind, m, in, pts[0].Fields[0], want)
		}
	}
	// Declared for the kind: its type, numbers converted where nothing is lost.
	f(registry.Sensor, "telemetry", point.FloatField("pm25", 35.2), point.FloatField("pm25", 35.2), "")
	f(registry.Sensor, "telemetry", point.IntField("pm25", 35), point.FloatField("pm25", 35), "")
	f(registry.Sensor, "telemetry", point.StringField("pm25", "high"), point.Field{}, `field "pm25" of telemetry is declared float (µg/m³); got a string`)
	f(registry.Sensor, "telemetry", point.StringField("trend", "đang lên"), point.StringField("trend", "đang lên"), "")
	f(registry.Sensor, "telemetry", point.FloatField("trend", 1), point.Field{}, "declared string; got a number")
	f(registry.Sensor, "telemetry", point.BoolField("lamp_on", true), point.BoolField("lamp_on", true), "")
	f(registry.Sensor, "river", point.FloatField("rain_mm", 3), point.IntField("rain_mm", 3), "")
	f(registry.Sensor, "river", point.IntField("rain_mm", 3), point.IntField("rain_mm", 3), "")
	f(registry.Sensor, "river", point.FloatField("rain_mm", 3.5), point.Field{}, "declared int (mm); got a number with a fraction")
	// Undeclared: numbers only, stored as floats, so no tenant can type
	// the field for the others.
	f(registry.Sensor, "telemetry", point.FloatField("co2_ppm_N", 415), point.FloatField("co2_ppm_N", 415), "")
	f(registry.Sensor, "bench", point.IntField("seq", 7), point.FloatField("seq", 7), "")
	f(registry.Sensor, "telemetry", point.StringField("co2_ppm_N", "squatted"), point.Field{}, "not declared: undeclared fields must be numbers; ask the operations centre to declare telemetry.co2_ppm_N for sensor devices")
	f(registry.Unregistered, "telemetry", point.BoolField("x", true), point.Field{}, "undeclared fields must be numbers")
	// Declared for another kind: that kind's type holds for everyone.
	f(registry.Camera, "telemetry", point.FloatField("pm25", 1), point.FloatField("pm25", 1), "")
	f(registry.Camera, "telemetry", point.StringField("trend", "x"), point.Field{}, "declared string for sensor devices only, not for camera devices")
	f(registry.Camera, "telemetry", point.FloatField("trend", 1), point.Field{}, "declared string for sensor devices only")
	// The channels' own fields are checked by payload.
	f(registry.Camera, "status", point.StringField("state", "online"), point.StringField("state", "online"), "")
	f(registry.Camera, "status", point.StringField("firmware", "1.2"), point.Field{}, "not declared")
}
