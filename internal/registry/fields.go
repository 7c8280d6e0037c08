package registry

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"github.com/ioc-vn/ioc/internal/point"
	"gopkg.in/yaml.v3"
)

// FieldType is a declared field's type, as stored.
type FieldType string

const (
	Float  FieldType = "float"
	Int    FieldType = "int"
	String FieldType = "string"
	Bool   FieldType = "bool"
)

// Kind is the point kind a field of this type is stored as.
func (t FieldType) Kind() point.Kind {
	switch t {
	case Int:
		return point.Int
	case String:
		return point.String
	case Bool:
		return point.Bool
	}
	return point.Float
}

func (t FieldType) valid() bool { return t == Float || t == Int || t == String || t == Bool }

// FieldDecl declares one field: its type and, for numbers, its unit.
//
// In YAML either `{type: float, unit: µg/m³}` or just the type: `string`.
type FieldDecl struct {
	Type FieldType `yaml:"type"`
	Unit string    `yaml:"unit,omitempty"`
	// Line is where the declaration is in the registry file (0 when the
	// registry was built in code); errors name it.
	Line int `yaml:"-"`
}

// UnmarshalYAML reads the long or the short form and keeps the line.
func (d *FieldDecl) UnmarshalYAML(n *yaml.Node) error {
	d.Line = n.Line
	if n.Kind == yaml.ScalarNode {
		d.Type = FieldType(n.Value)
		return nil
	}
	if n.Kind == yaml.MappingNode {
		// Node.Decode does not inherit the decoder's KnownFields.
		for i := 0; i < len(n.Content); i += 2 {
			if k := n.Content[i].Value; k != "type" && k != "unit" {
				return fmt.Errorf("line %d: field %s not found in a field declaration (type, unit)", n.Content[i].Line, k)
			}
		}
	}
	type plain FieldDecl // without this method, so Decode does not recurse
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	p.Line = n.Line
	*d = FieldDecl(p)
	return nil
}

func (d FieldDecl) String() string {
	if d.Unit == "" {
		return string(d.Type)
	}
	return string(d.Type) + " (" + d.Unit + ")"
}

// Fields declares the fields each kind of device sends: kind → measurement
// → field → declaration. The store fixes a field's type per measurement for
// every device, so a type is never left to whichever tenant writes first:
// a declared field must come with its declared type, an undeclared one must
// be a number (stored as a float), and declarations of one measurement's
// field agree across kinds.
type Fields map[Kind]map[string]map[string]FieldDecl

// DeclaredField is a measurement's field as declared, with the kinds that
// declare it.
type DeclaredField struct {
	FieldDecl
	Kinds []Kind // sorted
}

// Field looks up measurement.field for a device of kind k. forKind tells
// whether k itself declares it; declared whether any kind does (they all
// agree on its type, so d is the measurement's type for every device).
func (r *Registry) Field(k Kind, measurement, field string) (d DeclaredField, forKind, declared bool) {
	key := measurement + "\x00" + field
	d, declared = r.fields[key]
	if declared {
		_, forKind = r.kindFields[k][key]
	}
	return d, forKind, declared
}

// builtin are fields whose type the payload checks fix whatever the
// registry says (payload's status keys and the event count).
var builtin = map[string]FieldType{
	"status\x00state": String, "status\x00recording": Bool, "status\x00signal": Bool, "status\x00tamper": Bool,
	"status\x00fps": Float, "status\x00bitrate_kbps": Float, "status\x00storage_pct": Float,
	"event\x00count": Float,
}

// reservedTagKeys are the registry's tags, which no field may be named.
var reservedTagKeys = map[string]bool{"device": true, "integrator": true, "kind": true, "district": true, "parent": true, "name": true}

// buildFields validates f and indexes it into r, reporting every problem
// with the line of the declaration.
func (r *Registry) buildFields(f Fields) []error {
	type problem struct {
		line int
		msg  string
	}
	var probs []problem
	bad := func(line int, format string, args ...any) {
		probs = append(probs, problem{line, fmt.Sprintf(format, args...)})
	}
	r.fields = map[string]DeclaredField{}
	r.kindFields = map[Kind]map[string]bool{}
	first := map[string]string{} // key → path of the first declaration, for messages
	// In file order, so a disagreement is reported at the later line.
	type entry struct {
		k       Kind
		m, name string
		d       FieldDecl
	}
	var all []entry
	for k, ms := range f {
		if !k.valid() {
			bad(0, "fields: kind %q is not one of camera, nvr, sensor, gateway", k)
			continue
		}
		r.kindFields[k] = map[string]bool{}
		for m, fs := range ms {
			for name, d := range fs {
				all = append(all, entry{k, m, name, d})
			}
		}
	}
	slices.SortFunc(all, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.d.Line, b.d.Line), cmp.Compare(a.k, b.k), cmp.Compare(a.m, b.m), cmp.Compare(a.name, b.name))
	})
	for _, e := range all {
		k, m, name, d := e.k, e.m, e.name, e.d
		path := fmt.Sprintf("fields.%s.%s.%s", k, m, name)
		switch {
		case m == "" || m[0] == '_' || m == "alert" || m == "maintenance":
			bad(d.Line, "%s: measurement %q cannot be declared (empty, reserved or the alert history)", path, m)
			continue
		case name == "" || name[0] == '_' || name == "time" || name == "ts" || reservedTagKeys[name]:
			bad(d.Line, "%s: %q is not a field name a device may send", path, name)
			continue
		case !d.Type.valid():
			bad(d.Line, "%s: type %q is not one of float, int, string, bool", path, d.Type)
			continue
		case d.Unit != "" && (d.Type == String || d.Type == Bool):
			bad(d.Line, "%s: a %s has no unit", path, d.Type)
			continue
		}
		key := m + "\x00" + name
		if t, ok := builtin[key]; ok && t != d.Type {
			bad(d.Line, "%s: %s is fixed by the %s channel's checks as %s", path, name, m, t)
			continue
		}
		r.kindFields[k][key] = true
		prev, seen := r.fields[key]
		if !seen {
			r.fields[key] = DeclaredField{FieldDecl: d, Kinds: []Kind{k}}
			first[key] = path
			continue
		}
		if prev.Type != d.Type || prev.Unit != d.Unit {
			where := first[key]
			if prev.Line > 0 {
				where = "line " + strconv.Itoa(prev.Line) + " " + where
			}
			bad(d.Line, "%s: %s disagrees with %s: %s; the store types a field per measurement for every device, so every kind must declare it alike",
				path, d, where, prev.FieldDecl)
			continue
		}
		prev.Kinds = append(prev.Kinds, k)
		slices.Sort(prev.Kinds)
		r.fields[key] = prev
	}
	slices.SortStableFunc(probs, func(a, b problem) int { return cmp.Compare(a.line, b.line) })
	errs := make([]error, len(probs))
	for i, p := range probs {
		if p.line > 0 {
			errs[i] = fmt.Errorf("line %d: %s", p.line, p.msg)
		} else {
			errs[i] = fmt.Errorf("%s", p.msg)
		}
	}
	return errs
}
