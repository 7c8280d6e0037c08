// Package payload turns the bytes of an integrator's MQTT message into points.
//
// It is the pure core of ingest: it takes bytes and the server's clock reading
// and returns points or a *Error with a stable Reason; it never touches the
// network, the clock or the registry.
//
// Telemetry formats are recognised from the first non-space byte:
//
//	'{'   a JSON object of readings
//	'['   SenML JSON (RFC 8428)
//	else  InfluxDB line protocol
package payload

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/ioc-vn/ioc/internal/point"
	"github.com/valyala/fastjson"
)

// Channel is the last level of a device topic.
type Channel string

const (
	Telemetry Channel = "telemetry"
	Status    Channel = "status"
	Event     Channel = "event"
)

// Measurements written for each channel. Line protocol keeps its own.
const (
	MeasurementTelemetry = "telemetry"
	MeasurementStatus    = "status"
	MeasurementEvent     = "event"
)

// Measurements the server writes itself: the alert service's history
// (internal/alertd/history.go). No device may write them.
const (
	MeasurementAlert       = "alert"
	MeasurementMaintenance = "maintenance"
	// MeasurementUnit holds the units a device's SenML records gave its
	// fields: one string field per reading, its unit (ingest writes it
	// when a unit is first seen or changes, and daily).
	MeasurementUnit = "unit"
)

// reservedMeasurement says why a line-protocol line may not name measurement
// m, or returns "" when it may. Devices write only through their channels:
// status and event have their own checks (checkStatus, checkEvent), which a
// telemetry line must not bypass, and the alert history belongs to the
// server (a forged "resolved by admin" would show on the technician page).
func reservedMeasurement(m string) string {
	switch m {
	case MeasurementStatus:
		return `measurement "status" is written only by the status channel (a JSON object on ioc/v1/<integrator>/<device>/status), where its fields are checked`
	case MeasurementEvent:
		return `measurement "event" is written only by the event channel (a JSON object with a "type" on ioc/v1/<integrator>/<device>/event)`
	case MeasurementAlert, MeasurementMaintenance:
		return "measurement " + strconv.Quote(m) + " is the operations centre's alert history; devices may not write it"
	case MeasurementUnit:
		return `measurement "unit" holds the units of SenML readings (the records' u and bu); devices may not write it`
	}
	return ""
}

// ReservedTags are the tag keys that ingest fills from the device registry;
// payloads may not set them (a line-protocol device tag equal to the topic's
// device is allowed) nor use them as field keys.
var ReservedTags = [...]string{"device", "integrator", "kind", "district", "parent", "name"}

// Limits bound what one message may contain. The zero value is not useful;
// start from DefaultLimits.
type Limits struct {
	MaxBytes       int           `yaml:"max_bytes"`           // whole payload
	MaxPoints      int           `yaml:"max_points"`          // points (lines, SenML instants) in one message
	MaxFields      int           `yaml:"max_fields"`          // fields in one point
	MaxKeyBytes    int           `yaml:"max_key_bytes"`       // a field, tag or measurement name
	MaxStringBytes int           `yaml:"max_string_bytes"`    // a string field value
	MaxTags        int           `yaml:"max_tags"`            // line-protocol tags on one line (the registry's are not counted)
	MaxTagBytes    int           `yaml:"max_tag_value_bytes"` // a line-protocol tag value
	MaxPast        time.Duration `yaml:"max_past"`            // oldest accepted timestamp, before the server clock
	MaxFuture      time.Duration `yaml:"max_future"`          // newest accepted timestamp, after the server clock
}

// DefaultLimits are sized for cameras and city sensors: a status or reading
// is a few hundred bytes; a gateway flushing a backlog sends a few thousand
// lines; 30 days covers a device that was offline for a long holiday while
// staying inside typical retention; 10 minutes tolerates a drifting RTC.
// Every distinct tag set is a new series in the database, kept for the
// retention period: 16 tags of at most 256 bytes describe any real sensor
// (a station, a lane, a channel) and keep one line from creating a series
// key of hundreds of kilobytes.
var DefaultLimits = Limits{
	MaxBytes:       256 << 10,
	MaxPoints:      5000,
	MaxFields:      200,
	MaxKeyBytes:    128,
	MaxStringBytes: 4096,
	MaxTags:        16,
	MaxTagBytes:    256,
	MaxPast:        30 * 24 * time.Hour,
	MaxFuture:      10 * time.Minute,
}

// Parser parses payloads. It keeps scratch state and is not safe for
// concurrent use; give each goroutine its own.
type Parser struct {
	limits Limits
	json   fastjson.Parser
	senml  senmlState
	// UsedNow reports whether the last Parse stamped any point with a time
	// derived from now (no ts, a line without a timestamp, a relative SenML
	// time): such points need the same now when the message is redelivered.
	UsedNow bool
	// Devices, after a Parse that named other devices than the topic's (a
	// gateway's SenML pack or JSON batch), holds each appended point's
	// device id, "" for the topic's device; nil when every point is the
	// topic's. The ids are as sent: the caller checks them.
	Devices []string
	// Units, after a SenML Parse, holds the unit (u, or the pack's bu) of
	// each reading that gave one, once per device and field; nil when none.
	Units []Unit
}

// Unit is the unit a SenML record gave a device's field.
type Unit struct {
	Device string // "" for the topic's device, as in Devices
	Field  string
	Unit   string
}

// NewParser returns a Parser enforcing l.
func NewParser(l Limits) *Parser { return &Parser{limits: l} }

// Parse appends the points carried by payload b on channel ch of device to
// dst. now is the server's receive time: it stamps readings that carry no
// time and anchors the accepted time window. On error dst is returned
// unchanged in length and the error is a *Error.
func (p *Parser) Parse(dst []point.Point, ch Channel, device string, b []byte, now time.Time) ([]point.Point, error) {
	n := len(dst)
	p.UsedNow = false
	p.Devices = nil
	p.Units = nil
	out, err := p.parse(dst, ch, device, b, now)
	if err != nil {
		p.Devices = nil
		return dst[:n], err
	}
	return out, nil
}

func (p *Parser) parse(dst []point.Point, ch Channel, device string, b []byte, now time.Time) ([]point.Point, error) {
	if len(b) > p.limits.MaxBytes {
		return dst, errorf(ReasonTooLarge, "payload is %d bytes; the limit is %d", len(b), p.limits.MaxBytes)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return dst, errorf(ReasonEmpty, "payload is empty")
	}
	if !utf8.Valid(b) {
		return dst, errorf(ReasonInvalidUTF8, "payload is not valid UTF-8 (first bad byte at offset %d)", firstInvalidUTF8(b))
	}
	switch ch {
	case Telemetry:
		switch b[0] {
		case '{':
			return p.jsonObject(dst, MeasurementTelemetry, b, now, nil)
		case '[':
			return p.senmlPoints(dst, b, device, now)
		default:
			return p.lineProtocol(dst, device, b, now)
		}
	case Status:
		if b[0] != '{' {
			return dst, errorf(ReasonMalformedJSON, "status must be a JSON object")
		}
		return p.jsonObject(dst, MeasurementStatus, b, now, checkStatus)
	case Event:
		if b[0] != '{' {
			return dst, errorf(ReasonMalformedJSON, "event must be a JSON object")
		}
		return p.jsonObject(dst, MeasurementEvent, b, now, checkEvent)
	}
	return dst, errorf(ReasonUnknownChannel, "channel %q is not one of telemetry, status, event", ch)
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

// jsonObject parses a flat JSON object into one point, or a gateway's
// batch, {"batch": [{"device": "<id>", ...}, ...]}, into one point per
// element. check, if given, validates and reshapes each point for its
// channel.
func (p *Parser) jsonObject(dst []point.Point, measurement string, b []byte, now time.Time, check func(*point.Point) error) ([]point.Point, error) {
	v, err := p.json.ParseBytes(b)
	if err != nil {
		return dst, errorf(ReasonMalformedJSON, "%v", err)
	}
	obj, err := v.Object()
	if err != nil {
		return dst, errorf(ReasonMalformedJSON, "payload must be a JSON object")
	}
	if batch := obj.Get("batch"); batch != nil && batch.Type() == fastjson.TypeArray && obj.Len() == 1 {
		return p.jsonBatch(dst, measurement, batch, now, check)
	}
	dst, _, err = p.jsonPoint(dst, measurement, obj, now, check, false)
	return dst, err
}

// jsonBatch parses a gateway's batch: each element is the flat object a
// device would send on the channel, with its "device".
func (p *Parser) jsonBatch(dst []point.Point, measurement string, batch *fastjson.Value, now time.Time, check func(*point.Point) error) ([]point.Point, error) {
	elems, _ := batch.Array()
	if len(elems) == 0 {
		return dst, errorf(ReasonMissingField, "batch is empty")
	}
	if len(elems) > p.limits.MaxPoints {
		return dst, errorf(ReasonTooManyPoints, "batch of %d objects; the limit is %d", len(elems), p.limits.MaxPoints)
	}
	start := len(dst)
	devs := make([]string, 0, len(elems))
	for i, ev := range elems {
		obj, err := ev.Object()
		if err != nil {
			return dst[:start], errorf(ReasonMalformedJSON, "batch[%d] is not a JSON object", i)
		}
		var dev string
		dst, dev, err = p.jsonPoint(dst, measurement, obj, now, check, true)
		if err != nil {
			var pe *Error
			if errors.As(err, &pe) {
				err = &Error{Reason: pe.Reason, Detail: fmt.Sprintf("batch[%d]: %s", i, pe.Detail)}
			}
			return dst[:start], err
		}
		devs = append(devs, dev)
	}
	p.Devices = devs
	return dst, nil
}

// jsonPoint appends the point of one flat object. With withDevice the
// object names its device in "device" (a string, required), returned.
func (p *Parser) jsonPoint(dst []point.Point, measurement string, obj *fastjson.Object, now time.Time, check func(*point.Point) error, withDevice bool) ([]point.Point, string, error) {
	dst = grow(dst)
	pt := &dst[len(dst)-1]
	pt.Measurement = measurement
	pt.Time = now
	hasTS := false
	var perr error
	var dev string
	seen := 0
	obj.Visit(func(key []byte, v *fastjson.Value) {
		if perr != nil {
			return
		}
		seen++
		if string(key) == "ts" {
			hasTS = true
			pt.Time, perr = p.jsonTime(v, now)
			return
		}
		if withDevice && string(key) == "device" {
			s, err := v.StringBytes()
			if err != nil || len(s) == 0 {
				perr = errorf(ReasonWrongType, "device must be a device id (a non-empty string)")
				return
			}
			dev = string(s)
			return
		}
		if seen > p.limits.MaxFields+1 {
			perr = errorf(ReasonTooManyFields, "more than %d fields", p.limits.MaxFields)
			return
		}
		k := string(key)
		if perr = p.checkFieldKey(k); perr != nil {
			return
		}
		if _, dup := pt.Field(k); dup {
			perr = errorf(ReasonMalformedJSON, "field %q appears twice", k)
			return
		}
		var f point.Field
		f, perr = p.jsonField(k, v)
		pt.Fields = append(pt.Fields, f)
	})
	if perr == nil && withDevice && dev == "" {
		perr = errorf(ReasonMissingField, "no device: each object of a batch names its device")
	}
	if perr == nil && check != nil {
		perr = check(pt)
	}
	if perr == nil && len(pt.Fields) == 0 {
		perr = errorf(ReasonMissingField, "object has no readings besides ts")
	}
	if perr == nil && len(pt.Fields) > p.limits.MaxFields {
		perr = errorf(ReasonTooManyFields, "%d fields; the limit is %d", len(pt.Fields), p.limits.MaxFields)
	}
	if perr != nil {
		return dst[:len(dst)-1], "", perr
	}
	p.UsedNow = p.UsedNow || !hasTS
	return dst, dev, nil
}

func (p *Parser) jsonField(k string, v *fastjson.Value) (point.Field, error) {
	switch v.Type() {
	case fastjson.TypeNumber:
		f, err := v.Float64()
		if err != nil {
			return point.Field{}, errorf(ReasonWrongType, "field %q: %v", k, err)
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return point.Field{}, errorf(ReasonNonFinite, "field %q: %s is not a finite number", k, v)
		}
		return point.FloatField(k, f), nil
	case fastjson.TypeTrue:
		return point.BoolField(k, true), nil
	case fastjson.TypeFalse:
		return point.BoolField(k, false), nil
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		if len(s) > p.limits.MaxStringBytes {
			return point.Field{}, errorf(ReasonTooLarge, "field %q: string of %d bytes; the limit is %d", k, len(s), p.limits.MaxStringBytes)
		}
		if !utf8.Valid(s) {
			return point.Field{}, errorf(ReasonInvalidUTF8, "field %q: string is not valid UTF-8", k)
		}
		return point.StringField(k, string(s)), nil
	case fastjson.TypeNull:
		return point.Field{}, errorf(ReasonWrongType, "field %q: null is not a reading; leave the key out instead", k)
	default:
		return point.Field{}, errorf(ReasonWrongType, "field %q: %s values are not readings; send numbers, booleans or strings, and flatten objects to keys like %s_x", k, v.Type(), k)
	}
}

// jsonTime reads ts: unix milliseconds or an RFC 3339 string.
func (p *Parser) jsonTime(v *fastjson.Value, now time.Time) (time.Time, error) {
	var t time.Time
	switch v.Type() {
	case fastjson.TypeNumber:
		ms, err := v.Float64()
		if err != nil || math.IsInf(ms, 0) || math.IsNaN(ms) || math.Abs(ms) > 1e16 {
			return t, errorf(ReasonTimeOutOfRange, "ts %s is not a unix time in milliseconds%s", v, p.unitHint(ms, time.Millisecond, "ts", now))
		}
		t = time.UnixMilli(int64(ms)).Add(time.Duration(math.Round((ms - math.Trunc(ms)) * 1e6)))
		if err := p.checkTime(t, now); err != nil {
			return t, withHint(err, p.unitHint(ms, time.Millisecond, "ts", now))
		}
		return t, nil
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		var err error
		t, err = time.Parse(time.RFC3339Nano, string(s))
		if err != nil {
			return t, errorf(ReasonWrongType, "ts %q is not RFC 3339 (e.g. 2026-11-23T10:00:00+07:00)", s)
		}
	default:
		return t, errorf(ReasonWrongType, "ts must be unix milliseconds or an RFC 3339 string, not %s", v.Type())
	}
	return t, p.checkTime(t, now)
}

func (p *Parser) checkTime(t, now time.Time) error {
	if d := now.Sub(t); d > p.limits.MaxPast {
		return errorf(ReasonTimeOutOfRange, "time %s is %s before the server clock; accepted window is %s back to %s ahead",
			t.UTC().Format(time.RFC3339Nano), d.Round(time.Second), p.limits.MaxPast, p.limits.MaxFuture)
	}
	if d := t.Sub(now); d > p.limits.MaxFuture {
		return errorf(ReasonTimeOutOfRange, "time %s is %s after the server clock; accepted window is %s back to %s ahead",
			t.UTC().Format(time.RFC3339Nano), d.Round(time.Second), p.limits.MaxPast, p.limits.MaxFuture)
	}
	return nil
}

// withHint adds hint to the detail of a payload error.
func withHint(err error, hint string) error {
	var e *Error
	if hint == "" || !errors.As(err, &e) {
		return err
	}
	return errorf(e.Reason, "%s%s", e.Detail, hint)
}

// timeUnits are the units a device's clock may count in, for unitHint.
var timeUnits = []struct {
	name string
	d    time.Duration
}{{"seconds", time.Second}, {"milliseconds", time.Millisecond}, {"microseconds", time.Microsecond}, {"nanoseconds", time.Nanosecond}}

// unitHint explains a time refused by checkTime when the number would
// have been in the accepted window counted in another unit, the usual
// mistake (SenML bt in milliseconds, ts in seconds, line protocol in
// milliseconds): "; 1780000000000 is 2026-05-28T… if counted in
// milliseconds, but SenML times are seconds". what names the field and
// want its unit.
func (p *Parser) unitHint(v float64, want time.Duration, what string, now time.Time) string {
	for _, u := range timeUnits {
		if u.d == want {
			continue
		}
		secs := v * u.d.Seconds()
		if math.Abs(secs) > 1e11 {
			continue
		}
		t := time.Unix(0, int64(math.Round(secs*1e9)))
		if now.Sub(t) <= p.limits.MaxPast && t.Sub(now) <= p.limits.MaxFuture {
			return fmt.Sprintf("; %s %s is %s counted in %s, but %s", what, strconv.FormatFloat(v, 'f', -1, 64), t.UTC().Format(time.RFC3339), u.name, unitRule(want))
		}
	}
	return ""
}

func unitRule(want time.Duration) string {
	switch want {
	case time.Second:
		return "SenML times (bt, t) are seconds (RFC 8428)"
	case time.Millisecond:
		return "ts is unix milliseconds"
	}
	return "line protocol timestamps are nanoseconds"
}

// checkKey validates a measurement, tag or field name.
func (p *Parser) checkKey(what, k string) error {
	if k == "" {
		return errorf(ReasonInvalidKey, "empty %s name", what)
	}
	if len(k) > p.limits.MaxKeyBytes {
		return errorf(ReasonInvalidKey, "%s name %.32q… is %d bytes; the limit is %d", what, k, len(k), p.limits.MaxKeyBytes)
	}
	if k[0] == '_' {
		return errorf(ReasonInvalidKey, "%s name %q: names starting with _ are reserved", what, k)
	}
	if k == "time" {
		return errorf(ReasonInvalidKey, "%s name \"time\" is reserved", what)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] == 0x7f {
			return errorf(ReasonInvalidKey, "%s name %q contains a control character", what, k)
		}
	}
	return nil
}

func (p *Parser) checkFieldKey(k string) error {
	if err := p.checkKey("field", k); err != nil {
		return err
	}
	if isReservedTag(k) {
		return errorf(ReasonInvalidKey, "field name %q is reserved for the registry's tag of that name", k)
	}
	return nil
}

func isReservedTag(k string) bool {
	for _, r := range ReservedTags {
		if k == r {
			return true
		}
	}
	return false
}

// grow extends dst by one reset point, reusing the backing array's slices.
func grow(dst []point.Point) []point.Point {
	if len(dst) < cap(dst) {
		dst = dst[:len(dst)+1]
		dst[len(dst)-1].Reset()
		return dst
	}
	return append(dst, point.Point{})
}

// Statuses a device may report in status.state.
const (
	StateOnline   = "online"
	StateOffline  = "offline"
	StateDegraded = "degraded"
)

// statusFields are the documented status keys and the kind each must have.
var statusFields = map[string]point.Kind{
	"state":        point.String,
	"recording":    point.Bool,
	"fps":          point.Float,
	"bitrate_kbps": point.Float,
	"storage_pct":  point.Float,
	"tamper":       point.Bool,
	"signal":       point.Bool,
}

// StatusFieldKind returns the kind a documented status key must have.
func StatusFieldKind(key string) (point.Kind, bool) {
	k, ok := statusFields[key]
	return k, ok
}

func checkStatus(pt *point.Point) error {
	for _, f := range pt.Fields {
		want, known := statusFields[f.Key]
		if !known {
			continue
		}
		if f.Kind != want {
			return errorf(ReasonWrongType, "status field %q must be a %s, got %s", f.Key, jsonKind(want), jsonKind(f.Kind))
		}
		switch f.Key {
		case "state":
			if f.S != StateOnline && f.S != StateOffline && f.S != StateDegraded {
				return errorf(ReasonInvalidValue, "status state %q is not one of online, offline, degraded", f.S)
			}
		case "storage_pct":
			if f.F < 0 || f.F > 100 {
				return errorf(ReasonInvalidValue, "status storage_pct %g is outside 0..100", f.F)
			}
		case "fps", "bitrate_kbps":
			if f.F < 0 {
				return errorf(ReasonInvalidValue, "status %s %g is negative", f.Key, f.F)
			}
		}
	}
	return nil
}

// checkEvent moves the required "type" into a tag and adds count=1 unless
// the event gives its own count, so events can be counted by type.
func checkEvent(pt *point.Point) error {
	typ, ok := pt.Field("type")
	if !ok {
		return errorf(ReasonMissingField, `event has no "type" (e.g. "tamper", "motion", "intrusion", "door")`)
	}
	if typ.Kind != point.String || typ.S == "" || len(typ.S) > 64 {
		return errorf(ReasonWrongType, `event "type" must be a non-empty string of at most 64 bytes`)
	}
	for i := 0; i < len(typ.S); i++ {
		c := typ.S[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return errorf(ReasonInvalidValue, "event type %q: use lower-case letters, digits, '_', '-', '.'", typ.S)
		}
	}
	out := pt.Fields[:0]
	for _, f := range pt.Fields {
		if f.Key != "type" {
			out = append(out, f)
		}
	}
	pt.Fields = out
	pt.SetTag("type", typ.S)
	if c, ok := pt.Field("count"); !ok {
		pt.Fields = append(pt.Fields, point.FloatField("count", 1))
	} else if c.Kind != point.Float {
		return errorf(ReasonWrongType, "event count must be a number")
	}
	return nil
}

func jsonKind(k point.Kind) string {
	switch k {
	case point.Float, point.Int:
		return "number"
	case point.Bool:
		return "boolean"
	}
	return "string"
}
