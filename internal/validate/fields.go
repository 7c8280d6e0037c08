package validate

import (
	"math"
	"strings"

	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/registry"
)

// Fields holds pts to the registry's field declarations before they
// reach the store, so that no tenant can fix a field's type for the others
// (the store types a field per measurement for every device). A field
// declared for the device's kind must have its declared type; any other
// field must be a number and is stored as a float, unless another kind
// declares it otherwise. Numbers are converted where that loses nothing
// (an int sent for a float field, an integral float for an int field), so
// JSON, whose numbers are all floats, can fill int fields.
func Fields(r *registry.Registry, kind registry.Kind, pts []point.Point) *payload.Error {
	for i := range pts {
		pt := &pts[i]
		for j := range pt.Fields {
			f := &pt.Fields[j]
			if builtinField(pt.Measurement, f.Key) {
				continue // the channel's own checks fixed its type
			}
			d, forKind, declared := r.Field(kind, pt.Measurement, f.Key)
			if !declared {
				if !toFloat(f) {
					return payload.Errorf(payload.ReasonWrongType,
						"field %q of %s is a %s, but it is not declared: undeclared fields must be numbers; ask the operations centre to declare %s.%s for %s devices in the device registry (fields:)",
						f.Key, pt.Measurement, kindName(f.Kind), pt.Measurement, f.Key, kind)
				}
				continue
			}
			if !forKind && d.Type != registry.Float {
				return payload.Errorf(payload.ReasonWrongType,
					"field %q of %s is declared %s for %s devices only, not for %s devices: send a different field name, or ask the operations centre to declare it for %s devices",
					f.Key, pt.Measurement, d.FieldDecl, kindList(d.Kinds), kind, kind)
			}
			if !convert(f, d.Type) {
				return payload.Errorf(payload.ReasonWrongType,
					"field %q of %s is declared %s; got %s",
					f.Key, pt.Measurement, d.FieldDecl, describe(f))
			}
		}
	}
	return nil
}

func builtinField(measurement, key string) bool {
	switch measurement {
	case payload.MeasurementStatus:
		_, ok := payload.StatusFieldKind(key)
		return ok
	case payload.MeasurementEvent:
		return key == "count"
	}
	return false
}

// toFloat makes a number a float; it reports false for anything else.
func toFloat(f *point.Field) bool {
	switch f.Kind {
	case point.Float:
		return true
	case point.Int:
		*f = point.FloatField(f.Key, float64(f.I))
		return true
	}
	return false
}

// convert makes f of type t where nothing is lost, and reports whether it could.
func convert(f *point.Field, t registry.FieldType) bool {
	switch t {
	case registry.Float:
		return toFloat(f)
	case registry.Int:
		switch f.Kind {
		case point.Int:
			return true
		case point.Float:
			if f.F != math.Trunc(f.F) || f.F < math.MinInt64 || f.F >= math.MaxInt64 {
				return false
			}
			*f = point.IntField(f.Key, int64(f.F))
			return true
		}
		return false
	}
	return f.Kind == t.Kind()
}

func kindName(k point.Kind) string {
	switch k {
	case point.Float, point.Int:
		return "number"
	case point.Bool:
		return "boolean"
	}
	return "string"
}

func describe(f *point.Field) string {
	switch f.Kind {
	case point.Float:
		if f.F != math.Trunc(f.F) {
			return "a number with a fraction"
		}
		return "a number"
	case point.Int:
		return "an integer"
	case point.Bool:
		return "a boolean"
	}
	return "a string"
}

func kindList(ks []registry.Kind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
