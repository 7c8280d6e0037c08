// Package point defines the time-series point that flows from the payload
// parsers to the stores, and its InfluxDB line-protocol encoding.
//
// A Point is deliberately a plain struct of slices (not maps) so that parsers
// can reuse one across messages and steady-state ingest allocates little.
package point

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is the type of a field value. InfluxDB fixes a field's type per shard,
// so the kinds here map one to one onto line-protocol value types.
type Kind uint8

const (
	Float Kind = iota
	Int
	String
	Bool
)

func (k Kind) String() string {
	switch k {
	case Float:
		return "float"
	case Int:
		return "int"
	case String:
		return "string"
	case Bool:
		return "bool"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Field is one named value. Only the member selected by Kind is meaningful.
type Field struct {
	Key  string
	Kind Kind
	F    float64
	I    int64
	S    string
	B    bool
}

// FloatField, IntField, StringField and BoolField build fields.
func FloatField(k string, v float64) Field { return Field{Key: k, Kind: Float, F: v} }
func IntField(k string, v int64) Field     { return Field{Key: k, Kind: Int, I: v} }
func StringField(k, v string) Field        { return Field{Key: k, Kind: String, S: v} }
func BoolField(k string, v bool) Field     { return Field{Key: k, Kind: Bool, B: v} }

// Value returns the field's value as an interface (float64, int64, string or bool).
func (f Field) Value() any {
	switch f.Kind {
	case Float:
		return f.F
	case Int:
		return f.I
	case String:
		return f.S
	default:
		return f.B
	}
}

// Equal reports whether two fields have the same key, kind and value.
func (f Field) Equal(o Field) bool {
	if f.Key != o.Key || f.Kind != o.Kind {
		return false
	}
	switch f.Kind {
	case Float:
		return f.F == o.F || (math.IsNaN(f.F) && math.IsNaN(o.F))
	case Int:
		return f.I == o.I
	case String:
		return f.S == o.S
	default:
		return f.B == o.B
	}
}

// Tag is one indexed key/value pair.
type Tag struct {
	Key, Value string
}

// Point is one measurement at one instant for one series.
type Point struct {
	Measurement string
	Tags        []Tag // kept sorted by key; see SetTag
	Fields      []Field
	Time        time.Time
}

// Reset clears p for reuse, keeping its slices' capacity.
func (p *Point) Reset() {
	p.Measurement = ""
	p.Tags = p.Tags[:0]
	p.Fields = p.Fields[:0]
	p.Time = time.Time{}
}

// SetTag sets key to value, keeping Tags sorted by key.
func (p *Point) SetTag(key, value string) {
	i, found := slices.BinarySearchFunc(p.Tags, key, func(t Tag, k string) int { return strings.Compare(t.Key, k) })
	if found {
		p.Tags[i].Value = value
		return
	}
	p.Tags = slices.Insert(p.Tags, i, Tag{Key: key, Value: value})
}

// Tag returns the value of the tag key and whether it is set.
func (p *Point) Tag(key string) (string, bool) {
	for _, t := range p.Tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return "", false
}

// Field returns the field named key and whether it is present.
func (p *Point) Field(key string) (Field, bool) {
	for _, f := range p.Fields {
		if f.Key == key {
			return f, true
		}
	}
	return Field{}, false
}

// SetField adds f, replacing an existing field of the same key.
func (p *Point) SetField(f Field) {
	for i := range p.Fields {
		if p.Fields[i].Key == f.Key {
			p.Fields[i] = f
			return
		}
	}
	p.Fields = append(p.Fields, f)
}

// Clone returns a deep copy of p that shares no slices with it.
func (p *Point) Clone() Point {
	return Point{
		Measurement: p.Measurement,
		Tags:        slices.Clone(p.Tags),
		Fields:      slices.Clone(p.Fields),
		Time:        p.Time,
	}
}

// AppendLine appends p in InfluxDB line protocol (nanosecond timestamp,
// fields in their stored order, no trailing newline) to dst. Keys and tag
// values must hold no control characters; the payload parsers refuse them.
func AppendLine(dst []byte, p *Point) []byte {
	dst = appendEscaped(dst, p.Measurement, measurementEscapes)
	for _, t := range p.Tags {
		if t.Value == "" {
			continue // line protocol has no empty tag values
		}
		dst = append(dst, ',')
		dst = appendEscaped(dst, t.Key, keyEscapes)
		dst = append(dst, '=')
		dst = appendEscaped(dst, t.Value, keyEscapes)
	}
	for i, f := range p.Fields {
		if i == 0 {
			dst = append(dst, ' ')
		} else {
			dst = append(dst, ',')
		}
		dst = appendEscaped(dst, f.Key, keyEscapes)
		dst = append(dst, '=')
		switch f.Kind {
		case Float:
			dst = strconv.AppendFloat(dst, f.F, 'g', -1, 64)
		case Int:
			dst = strconv.AppendInt(dst, f.I, 10)
			dst = append(dst, 'i')
		case String:
			dst = append(dst, '"')
			dst = appendEscaped(dst, f.S, stringEscapes)
			dst = append(dst, '"')
		case Bool:
			dst = strconv.AppendBool(dst, f.B)
		}
	}
	dst = append(dst, ' ')
	return strconv.AppendInt(dst, p.Time.UnixNano(), 10)
}

const (
	measurementEscapes = ", "
	keyEscapes         = ",= "
	stringEscapes      = `"\`
)

func appendEscaped(dst []byte, s, special string) []byte {
	if !strings.ContainsAny(s, special) {
		return append(dst, s...)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if strings.IndexByte(special, c) >= 0 {
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
	}
	return dst
}
