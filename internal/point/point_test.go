package point

import (
	"testing"
	"time"
)

func TestAppendLineEscapes(t *testing.T) {
	p := Point{Measurement: "air quality,x", Time: time.Unix(0, 42)}
	p.SetTag("z", "last")
	p.SetTag("name", "Trạm 1,a=b")
	p.SetTag("empty", "")
	p.Fields = []Field{StringField("note", `say "hi" \ bye`), IntField("n", -3), BoolField("ok", true), FloatField("f", 0.1)}
	want := `air\ quality\,x,name=Trạm\ 1\,a\=b,z=last note="say \"hi\" \\ bye",n=-3i,ok=true,f=0.1 42`
	if got := string(AppendLine(nil, &p)); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func BenchmarkAppendLine(b *testing.B) {
	p := Point{Measurement: "telemetry", Time: time.Unix(1795427990, 123)}
	for _, t := range []Tag{{"device", "aq-tp-01"}, {"district", "tp-thai-nguyen"}, {"integrator", "envsense"}, {"kind", "sensor"}, {"name", "Trạm không khí Quảng trường"}} {
		p.SetTag(t.Key, t.Value)
	}
	p.Fields = []Field{FloatField("pm25", 35.2), FloatField("pm10", 51), FloatField("temp", 31.5), BoolField("ok", true)}
	buf := AppendLine(nil, &p)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendLine(buf[:0], &p)
	}
}
