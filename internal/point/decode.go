package point

import (
	"fmt"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
)

// DecodeLines parses line protocol as AppendLine writes it (nanosecond
// times) and appends the points to dst. Unsigned integers become Int.
func DecodeLines(dst []Point, b []byte) ([]Point, error) {
	dec := lineprotocol.NewDecoderWithBytes(b)
	for dec.Next() {
		m, err := dec.Measurement()
		if err != nil {
			return dst, err
		}
		p := Point{Measurement: string(m)}
		for {
			k, v, err := dec.NextTag()
			if err != nil {
				return dst, err
			}
			if k == nil {
				break
			}
			p.Tags = append(p.Tags, Tag{Key: string(k), Value: string(v)})
		}
		for {
			k, v, err := dec.NextField()
			if err != nil {
				return dst, err
			}
			if k == nil {
				break
			}
			f := Field{Key: string(k)}
			switch v.Kind() {
			case lineprotocol.Float:
				f.Kind, f.F = Float, v.FloatV()
			case lineprotocol.Int:
				f.Kind, f.I = Int, v.IntV()
			case lineprotocol.Uint:
				f.Kind, f.I = Int, int64(v.UintV())
			case lineprotocol.String:
				f.Kind, f.S = String, v.StringV()
			case lineprotocol.Bool:
				f.Kind, f.B = Bool, v.BoolV()
			default:
				return dst, fmt.Errorf("field %s: unknown kind", k)
			}
			p.Fields = append(p.Fields, f)
		}
		t, err := dec.Time(lineprotocol.Nanosecond, time.Time{})
		if err != nil {
			return dst, err
		}
		p.Time = t
		dst = append(dst, p)
	}
	return dst, nil
}
