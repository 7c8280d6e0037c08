package payload

import (
	"errors"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
	"github.com/ioc-vn/ioc/internal/point"
)

// lineProtocol parses one or more InfluxDB line-protocol lines. Each line
// keeps its measurement and tags; timestamps are nanoseconds (InfluxDB's
// default precision) and a line without one gets the receive time. A tag
// named after a registry tag is refused, except device= the topic's device.
func (p *Parser) lineProtocol(dst []point.Point, device string, b []byte, now time.Time) ([]point.Point, error) {
	start := len(dst)
	fail := func(line int, err error) ([]point.Point, error) {
		var pe *Error
		if !errors.As(err, &pe) {
			pe = errorf(ReasonMalformedLine, "%v", err)
		}
		if line > 0 {
			pe.Detail = "line " + strconv.Itoa(line) + ": " + pe.Detail
		}
		return dst[:start], pe
	}
	dec := lineprotocol.NewDecoderWithBytes(b)
	line := 0
	for dec.Next() {
		line++
		if line > p.limits.MaxPoints {
			return fail(0, errorf(ReasonTooManyPoints, "more than %d lines", p.limits.MaxPoints))
		}
		m, err := dec.Measurement()
		if err != nil {
			return fail(line, err)
		}
		if err := p.checkKey("measurement", string(m)); err != nil {
			return fail(line, err)
		}
		if why := reservedMeasurement(string(m)); why != "" {
			return fail(line, errorf(ReasonReservedMeasurement, "%s", why))
		}
		dst = grow(dst)
		pt := &dst[len(dst)-1]
		pt.Measurement = string(m)
		for {
			k, v, err := dec.NextTag()
			if err != nil {
				return fail(line, err)
			}
			if k == nil {
				break
			}
			key, val := string(k), string(v)
			if err := p.checkKey("tag", key); err != nil {
				return fail(line, err)
			}
			if !utf8.ValidString(key) || !utf8.ValidString(val) {
				return fail(line, errorf(ReasonInvalidUTF8, "tag %q is not valid UTF-8", key))
			}
			if isReservedTag(key) && !(key == "device" && val == device) {
				return fail(line, errorf(ReasonInvalidKey, "tag %q is set by the registry; leave it out (the topic names the device)", key))
			}
			if len(val) > p.limits.MaxTagBytes {
				return fail(line, errorf(ReasonTagTooLong, "tag %q: value of %d bytes; the limit is %d (each distinct value is a new series: put long text in a string field)", key, len(val), p.limits.MaxTagBytes))
			}
			if key != "device" {
				if len(pt.Tags) >= p.limits.MaxTags {
					return fail(line, errorf(ReasonTooManyTags, "more than %d tags (each distinct tag set is a new series: put readings in fields)", p.limits.MaxTags))
				}
				pt.SetTag(key, val)
			}
		}
		for {
			k, v, err := dec.NextField()
			if err != nil {
				var de *lineprotocol.DecodeError
				if errors.As(err, &de) && errors.Is(de.Err, lineprotocol.ErrValueOutOfRange) {
					return fail(line, errorf(ReasonNonFinite, "%v", de.Err))
				}
				return fail(line, err)
			}
			if k == nil {
				break
			}
			key := string(k)
			if err := p.checkFieldKey(key); err != nil {
				return fail(line, err)
			}
			if _, dup := pt.Field(key); dup {
				return fail(line, errorf(ReasonMalformedLine, "field %q appears twice", key))
			}
			if len(pt.Fields) >= p.limits.MaxFields {
				return fail(line, errorf(ReasonTooManyFields, "more than %d fields", p.limits.MaxFields))
			}
			var f point.Field
			switch v.Kind() {
			case lineprotocol.Float:
				if x := v.FloatV(); math.IsInf(x, 0) || math.IsNaN(x) {
					return fail(line, errorf(ReasonNonFinite, "field %q is not a finite number", key))
				}
				f = point.FloatField(key, v.FloatV())
			case lineprotocol.Int:
				f = point.IntField(key, v.IntV())
			case lineprotocol.Uint:
				if v.UintV() > math.MaxInt64 {
					return fail(line, errorf(ReasonWrongType, "field %q: unsigned %d does not fit a signed 64-bit integer", key, v.UintV()))
				}
				f = point.IntField(key, int64(v.UintV()))
			case lineprotocol.String:
				s := v.StringV()
				if len(s) > p.limits.MaxStringBytes {
					return fail(line, errorf(ReasonTooLarge, "field %q: string of %d bytes; the limit is %d", key, len(s), p.limits.MaxStringBytes))
				}
				f = point.StringField(key, s)
			case lineprotocol.Bool:
				f = point.BoolField(key, v.BoolV())
			}
			pt.Fields = append(pt.Fields, f)
		}
		tb, err := dec.TimeBytes()
		if err != nil {
			return fail(line, err)
		}
		t := now
		if tb == nil {
			p.UsedNow = true
		} else {
			ns, err := strconv.ParseInt(string(tb), 10, 64)
			if err != nil {
				return fail(line, errorf(ReasonTimeOutOfRange, "timestamp %s does not fit a signed 64-bit nanosecond count", tb))
			}
			t = time.Unix(0, ns)
			if err := p.checkTime(t, now); err != nil {
				return fail(line, withHint(err, p.unitHint(float64(ns), time.Nanosecond, "timestamp", now)))
			}
		}
		pt.Time = t
	}
	if err := dec.Err(); err != nil {
		return fail(line, err)
	}
	if line == 0 {
		return fail(0, errorf(ReasonMalformedLine, "no lines (only comments or blank lines)"))
	}
	return dst, nil
}
