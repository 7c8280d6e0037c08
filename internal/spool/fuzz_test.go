package spool

import (
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
)

// FuzzDecodeEntry: whatever the disk hands back, decoding an entry never
// panics, and an entry that passes its checksum decodes to what was
// encoded.
func FuzzDecodeEntry(f *testing.F) {
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	pt := point.Point{Measurement: "status", Time: at, Tags: []point.Tag{{Key: "device", Value: "cam 1"}},
		Fields: []point.Field{point.BoolField("recording", true), point.IntField("n", -3), point.StringField("s", "a\"b\\c\nd"), point.FloatField("fps", 24.5)}}
	f.Add(encode(nil, at, []point.Point{pt}))
	f.Add([]byte("short"))
	f.Add(append(make([]byte, 12), "m,t=1 f=1i 1\n"...))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, body, err := decodeHeader(data)
		if err != nil {
			return
		}
		pts, err := point.DecodeLines(nil, body)
		if err != nil {
			return
		}
		// What decodes encodes again to lines that decode the same.
		again := encode(nil, at, pts)
		_, body2, err := decodeHeader(again)
		if err != nil {
			t.Fatalf("re-encoded entry fails its checksum: %v", err)
		}
		pts2, err := point.DecodeLines(nil, body2)
		if err != nil || len(pts2) != len(pts) {
			t.Fatalf("round trip: %d points then %d (%v)", len(pts), len(pts2), err)
		}
		for i := range pts {
			if string(point.AppendLine(nil, &pts[i])) != string(point.AppendLine(nil, &pts2[i])) {
				t.Fatalf("point %d changed: %q then %q", i, point.AppendLine(nil, &pts[i]), point.AppendLine(nil, &pts2[i]))
			}
		}
	})
}
