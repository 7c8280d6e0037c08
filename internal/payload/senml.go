package payload

import (
	"cmp"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
	"github.com/valyala/fastjson"
)

// senmlRelativeLimit is RFC 8428 §4.5.3: a resolved time below 2**28 is
// relative to the time the message was received.
const senmlRelativeLimit = 1 << 28

type senmlState struct {
	times []time.Time // distinct (device, resolved time) pairs, index matches the points appended
	devs  []string
}

// senmlDevice is the device a base name names: "<device_id>:" or
// "<device_id>/" (RFC 8428 §4.5.1's separators), a gateway's way to send
// for the devices behind it. "" is the topic's device: no base name, a
// base name that is the topic's device, or one that is not a device's
// (a URN, a field name).
func senmlDevice(bn, topicDevice string) string {
	if len(bn) < 2 || (bn[len(bn)-1] != ':' && bn[len(bn)-1] != '/') {
		return ""
	}
	stem := bn[:len(bn)-1]
	if stem == topicDevice || strings.ContainsAny(stem, ":/") {
		return ""
	}
	return stem
}

// senmlPoints parses a SenML JSON pack (RFC 8428). Records that resolve to
// the same instant become one point in the telemetry measurement; the field
// key is the record's n, or bn when n is empty (the topic already names the
// device, which is what bn usually carries). A sum becomes "<key>_sum".
// A base name "<device_id>:" or "<device_id>/" other than the topic's
// device sends the records after it for that device (a gateway's pack):
// their points are that device's, in Devices.
func (p *Parser) senmlPoints(dst []point.Point, b []byte, device string, now time.Time) ([]point.Point, error) {
	v, err := p.json.ParseBytes(b)
	if err != nil {
		return dst, errorf(ReasonMalformedSenML, "%v", err)
	}
	recs, err := v.Array()
	if err != nil || len(recs) == 0 {
		return dst, errorf(ReasonMalformedSenML, "a SenML pack is a non-empty JSON array of records")
	}
	start := len(dst)
	p.senml.times, p.senml.devs = p.senml.times[:0], p.senml.devs[:0]
	var base struct {
		name, unit, dev string
		time, val, sum  float64
		hasVal, hasSum  bool
	}
	fail := func(err error) ([]point.Point, error) { return dst[:start], err }
	for i, rv := range recs {
		obj, err := rv.Object()
		if err != nil {
			return fail(errorf(ReasonMalformedSenML, "record %d is not a JSON object", i))
		}
		var (
			rec struct {
				name, unit        string
				t, v, s           float64
				vs                string
				vb                bool
				hasV, hasS, hasVS bool
				hasVB, hasVD      bool
				values            int
			}
			rerr error
		)
		num := func(key []byte, v *fastjson.Value) float64 {
			f, err := v.Float64()
			if err != nil {
				rerr = errorf(ReasonWrongType, "record %d: %s must be a number", i, key)
				return 0
			}
			if math.IsInf(f, 0) || math.IsNaN(f) {
				rerr = errorf(ReasonNonFinite, "record %d: %s is not a finite number", i, key)
			}
			return f
		}
		str := func(key []byte, v *fastjson.Value) string {
			s, err := v.StringBytes()
			if err != nil {
				rerr = errorf(ReasonWrongType, "record %d: %s must be a string", i, key)
				return ""
			}
			if len(s) > p.limits.MaxStringBytes {
				rerr = errorf(ReasonTooLarge, "record %d: %s of %d bytes; the limit is %d", i, key, len(s), p.limits.MaxStringBytes)
			}
			return string(s)
		}
		obj.Visit(func(key []byte, v *fastjson.Value) {
			if rerr != nil {
				return
			}
			switch string(key) {
			case "bn":
				base.name = str(key, v)
				base.dev = senmlDevice(base.name, device)
			case "bt":
				base.time = num(key, v)
			case "bu":
				base.unit = str(key, v)
			case "bv":
				base.val, base.hasVal = num(key, v), true
			case "bs":
				base.sum, base.hasSum = num(key, v), true
			case "bver":
				if ver := num(key, v); rerr == nil && ver > 10 {
					rerr = errorf(ReasonMalformedSenML, "record %d: bver %g is newer than RFC 8428 (10)", i, ver)
				}
			case "n":
				rec.name = str(key, v)
			case "u":
				rec.unit = str(key, v)
			case "t":
				rec.t = num(key, v)
			case "ut":
				num(key, v)
			case "v":
				rec.v, rec.hasV = num(key, v), true
				rec.values++
			case "vs":
				rec.vs, rec.hasVS = str(key, v), true
				rec.values++
			case "vd":
				rec.vs, rec.hasVD = str(key, v), true
				rec.values++
			case "vb":
				if v.Type() != fastjson.TypeTrue && v.Type() != fastjson.TypeFalse {
					rerr = errorf(ReasonWrongType, "record %d: vb must be true or false", i)
				}
				rec.vb, rec.hasVB = v.Type() == fastjson.TypeTrue, true
				rec.values++
			case "s":
				rec.s, rec.hasS = num(key, v), true
			default:
				if len(key) > 0 && key[len(key)-1] == '_' {
					// RFC 8428 §4.4: fields ending in "_" must be understood.
					rerr = errorf(ReasonMalformedSenML, "record %d: must-understand field %q is not supported", i, key)
				}
			}
		})
		if rerr != nil {
			return fail(rerr)
		}
		if rec.values > 1 {
			return fail(errorf(ReasonMalformedSenML, "record %d has more than one of v, vs, vb, vd", i))
		}
		if rec.values == 0 && base.hasVal && !rec.hasS {
			rec.v, rec.hasV, rec.values = 0, true, 1 // the base value alone is the value (§4.6)
		}
		if rec.values == 0 && !rec.hasS && !base.hasSum {
			return fail(errorf(ReasonMissingField, "record %d has no value (v, vs, vb, vd) or sum (s)", i))
		}
		full := base.name + rec.name
		if full == "" {
			return fail(errorf(ReasonMalformedSenML, "record %d has no name (bn + n is empty)", i))
		}
		if !senmlName(full) {
			return fail(errorf(ReasonInvalidKey, "record %d: name %q must start with a letter or digit and hold only letters, digits and - : . / _ (RFC 8428 §4.5.1)", i, full))
		}
		key := rec.name
		if key == "" {
			if base.dev != "" {
				return fail(errorf(ReasonMissingField, "record %d: base name %q names device %q; give the reading's name in n", i, base.name, base.dev))
			}
			key = base.name
		}
		if err := p.checkFieldKey(key); err != nil {
			return fail(err)
		}

		secs := base.time + rec.t
		var at time.Time
		switch {
		case math.Abs(secs) < senmlRelativeLimit:
			at = now.Add(time.Duration(secs * float64(time.Second)))
			p.UsedNow = true
		case math.Abs(secs) > 9e9: // past year 2255, beyond int64 nanoseconds
			return fail(errorf(ReasonTimeOutOfRange, "record %d: time %s is not a unix time in seconds%s", i,
				strconv.FormatFloat(secs, 'f', -1, 64), p.unitHint(secs, time.Second, "bt + t", now)))
		default:
			at = time.Unix(0, int64(math.Round(secs*1e9)))
		}
		if err := p.checkTime(at, now); err != nil {
			return fail(withHint(err, p.unitHint(secs, time.Second, "bt + t", now)))
		}
		pt, err := p.senmlPointAt(&dst, start, base.dev, at)
		if err != nil {
			return fail(err)
		}
		add := func(f point.Field) error {
			if _, dup := pt.Field(f.Key); dup {
				return errorf(ReasonMalformedSenML, "record %d: %q has two values at %s", i, f.Key, at.UTC().Format(time.RFC3339Nano))
			}
			if len(pt.Fields) >= p.limits.MaxFields {
				return errorf(ReasonTooManyFields, "more than %d fields at one instant", p.limits.MaxFields)
			}
			pt.Fields = append(pt.Fields, f)
			return nil
		}
		if u := cmp.Or(rec.unit, base.unit); u != "" && rec.values > 0 {
			p.addUnit(base.dev, key, u)
		}
		switch {
		case rec.hasV:
			v := base.val + rec.v
			if math.IsInf(v, 0) {
				return fail(errorf(ReasonNonFinite, "record %d: bv + v overflows", i))
			}
			err = add(point.FloatField(key, v))
		case rec.hasVS, rec.hasVD:
			err = add(point.StringField(key, rec.vs))
		case rec.hasVB:
			err = add(point.BoolField(key, rec.vb))
		}
		if err == nil && (rec.hasS || base.hasSum) {
			err = add(point.FloatField(key+"_sum", base.sum+rec.s))
		}
		if err != nil {
			return fail(err)
		}
	}
	return dst, nil
}

// senmlPointAt returns the point of device dev ("" the topic's) for
// instant at among those appended since start, appending a new one when
// the pair is new.
func (p *Parser) senmlPointAt(dst *[]point.Point, start int, dev string, at time.Time) (*point.Point, error) {
	for j, t := range p.senml.times {
		if t.Equal(at) && p.senml.devs[j] == dev {
			return &(*dst)[start+j], nil
		}
	}
	if len(p.senml.times) >= p.limits.MaxPoints {
		return nil, errorf(ReasonTooManyPoints, "more than %d distinct times in one pack", p.limits.MaxPoints)
	}
	*dst = grow(*dst)
	pt := &(*dst)[len(*dst)-1]
	pt.Measurement = MeasurementTelemetry
	pt.Time = at
	p.senml.times = append(p.senml.times, at)
	p.senml.devs = append(p.senml.devs, dev)
	if dev != "" && p.Devices == nil {
		p.Devices = make([]string, len(p.senml.devs)-1, len(p.senml.devs))
	}
	if p.Devices != nil {
		p.Devices = append(p.Devices, dev)
	}
	return pt, nil
}

// addUnit keeps the first unit given to device dev's field in the pack.
func (p *Parser) addUnit(dev, field, unit string) {
	for _, u := range p.Units {
		if u.Device == dev && u.Field == field {
			return
		}
	}
	p.Units = append(p.Units, Unit{Device: dev, Field: field, Unit: unit})
}

func senmlName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if i == 0 && !alnum {
			return false
		}
		if !alnum && c != '-' && c != ':' && c != '.' && c != '/' && c != '_' {
			return false
		}
	}
	return true
}
