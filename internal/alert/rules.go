// Package alert turns device readings, status, events and silence into
// alerts operators can trust. It is a pure core: Engine.Observe takes a
// device's points and the time, Engine.Tick takes the time, and both
// return the alert transitions they caused; nothing here touches the
// network, the store or the clock.
package alert

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/template"
	"time"

	"github.com/ioc-vn/ioc/internal/registry"
	"gopkg.in/yaml.v3"
)

// Severity orders alerts on the wall.
type Severity string

const (
	Critical Severity = "critical"
	Major    Severity = "major"
	Minor    Severity = "minor"
	Info     Severity = "info"
)

func (s Severity) valid() bool { return s == Critical || s == Major || s == Minor || s == Info }

// Rank orders severities: 0 for critical, 3 for info.
func (s Severity) Rank() int {
	switch s {
	case Critical:
		return 0
	case Major:
		return 1
	case Minor:
		return 2
	}
	return 3
}

// Kind is what a rule watches.
type Kind string

const (
	// Threshold: a field compared with a value, held for a duration, with a
	// separate clear condition (hysteresis). Status conditions are
	// thresholds on the status measurement.
	Threshold Kind = "threshold"
	// Rise: a field rising more than Delta within Window.
	Rise Kind = "rise"
	// Event: an event type raises at once; it clears after ClearAfter.
	Event Kind = "event"
	// Silence: no message of the measurement for longer than the device's
	// timeout (offline), or a status that says state=offline.
	Silence Kind = "silence"
	// Stuck: a field reporting exactly the same value for longer than For
	// (a frozen sensor); any change clears it.
	Stuck Kind = "stuck"
)

// Condition compares a field with a value: a number, true/false, a string,
// or "profile.fps" / "profile.bitrate_kbps" times Factor.
type Condition struct {
	Op     string  `yaml:"op"` // > >= < <= == !=
	Value  any     `yaml:"value"`
	Factor float64 `yaml:"factor"` // with a profile value; default 1
	For    Dur     `yaml:"for"`    // must hold this long
}

// Scope selects devices; empty lists match all.
type Scope struct {
	Kinds     []registry.Kind `yaml:"kinds"`
	Districts []string        `yaml:"districts"`
	Devices   []string        `yaml:"devices"`
}

// Rule is one alert rule of configs/rules.yaml.
type Rule struct {
	ID          string            `yaml:"id"`
	Kind        Kind              `yaml:"kind"`
	Severity    Severity          `yaml:"severity"`
	Scope       Scope             `yaml:"scope"`
	Measurement string            `yaml:"measurement"` // default telemetry (status for status conditions)
	Field       string            `yaml:"field"`
	Raise       *Condition        `yaml:"raise"`
	Clear       *Condition        `yaml:"clear"`
	Delta       float64           `yaml:"delta"`       // rise
	Window      Dur               `yaml:"window"`      // rise
	For         Dur               `yaml:"for"`         // stuck
	Types       []string          `yaml:"types"`       // event
	ClearAfter  Dur               `yaml:"clear_after"` // event
	Timeouts    map[string]Dur    `yaml:"timeouts"`    // silence: per device kind; a device's own timeout wins
	Message     map[string]string `yaml:"message"`     // "vi" and "en" templates
	// Mass: a silence rule's district outage. When at least Fraction of a
	// district's devices (and at least MinDevices) are offline, one
	// district alert, with theirs folded under it.
	Mass Mass `yaml:"mass"`

	line int
	tmpl map[string]*template.Template
}

// Mass configures district outage alerts; defaults 0.5 and 5.
type Mass struct {
	Fraction   float64 `yaml:"fraction"`
	MinDevices int     `yaml:"min_devices"`
	Off        bool    `yaml:"off"`
}

// Dur is a time.Duration written as "5m" in YAML.
type Dur time.Duration

func (d *Dur) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a duration like 30s, 5m or 1h", n.Line, n.Value)
	}
	*d = Dur(v)
	return nil
}

// Rules is a validated rule set, and the maintenance windows the file
// declares.
type Rules struct {
	List        []*Rule
	Maintenance []Maintenance
}

func (rs *Rules) byID(id string) *Rule {
	for _, r := range rs.List {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// LoadRules reads and validates a rules file.
func LoadRules(path string) (*Rules, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	r, err := ParseRules(b)
	if err != nil {
		return nil, fmt.Errorf("rules %s: %w", path, err)
	}
	return r, nil
}

// ParseRules decodes rules strictly and validates every rule, reporting
// every problem with its line.
func ParseRules(b []byte) (*Rules, error) {
	var doc struct {
		Rules       []yaml.Node `yaml:"rules"`
		Maintenance []yaml.Node `yaml:"maintenance"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	var (
		out  Rules
		errs []error
		ids  = map[string]int{}
	)
	for i := range doc.Rules {
		n := &doc.Rules[i]
		r := &Rule{line: n.Line}
		if err := decodeStrict(n, r); err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, dup := ids[r.ID]; dup && r.ID != "" {
			errs = append(errs, fmt.Errorf("line %d: rule id %q already used at line %d", n.Line, r.ID, prev))
			continue
		}
		ids[r.ID] = n.Line
		if err := r.validate(); err != nil {
			errs = append(errs, fmt.Errorf("line %d: rule %q: %w", n.Line, r.ID, err))
			continue
		}
		out.List = append(out.List, r)
	}
	for i := range doc.Maintenance {
		n := &doc.Maintenance[i]
		var m Maintenance
		if err := decodeStrict(n, &m); err != nil {
			errs = append(errs, err)
			continue
		}
		if !strings.HasPrefix(m.Target, devicePrefix) && !strings.HasPrefix(m.Target, districtPrefix) {
			errs = append(errs, fmt.Errorf("line %d: maintenance target %q: use device:<id> or district:<id>", n.Line, m.Target))
			continue
		}
		m.By = "config"
		out.Maintenance = append(out.Maintenance, m)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &out, nil
}

// decodeStrict decodes one node refusing unknown keys (Node.Decode does not
// honour KnownFields, so re-encode and decode).
func decodeStrict(n *yaml.Node, v any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		// Lines in err are relative to the rule; say where the rule is.
		return fmt.Errorf("rule at line %d: %w", n.Line, err)
	}
	return nil
}

var ops = map[string]bool{">": true, ">=": true, "<": true, "<=": true, "==": true, "!=": true}

func (c *Condition) validate(what string) error {
	if !ops[c.Op] {
		return fmt.Errorf("%s.op %q: use one of > >= < <= == !=", what, c.Op)
	}
	switch v := c.Value.(type) {
	case int, float64:
	case bool, string:
		if s, ok := v.(string); ok && strings.HasPrefix(s, "profile.") {
			if s != "profile.fps" && s != "profile.bitrate_kbps" {
				return fmt.Errorf("%s.value %q: profile.fps or profile.bitrate_kbps", what, s)
			}
			if c.Op == "==" || c.Op == "!=" {
				return fmt.Errorf("%s: compare a profile value with < <= > >=", what)
			}
			break
		}
		if c.Op != "==" && c.Op != "!=" {
			return fmt.Errorf("%s: %v can only be compared with == or !=", what, v)
		}
	case nil:
		return fmt.Errorf("%s.value is missing", what)
	default:
		return fmt.Errorf("%s.value %v: a number, true/false, a string or profile.fps", what, v)
	}
	if c.Factor == 0 {
		c.Factor = 1
	}
	return nil
}

func (r *Rule) validate() error {
	if r.ID == "" || strings.ContainsAny(r.ID, "/+# ") {
		return errors.New("id is empty or has / + # or spaces")
	}
	if !r.Severity.valid() {
		return fmt.Errorf("severity %q: use critical, major, minor or info", r.Severity)
	}
	for _, k := range r.Scope.Kinds {
		if k != registry.Camera && k != registry.NVR && k != registry.Sensor && k != registry.Gateway {
			return fmt.Errorf("scope.kinds: %q is not camera, nvr, sensor or gateway", k)
		}
	}
	switch r.Kind {
	case Threshold:
		if r.Field == "" || r.Raise == nil {
			return errors.New("a threshold rule needs field and raise")
		}
		if err := r.Raise.validate("raise"); err != nil {
			return err
		}
		if r.Clear == nil { // clear as soon as the raise condition no longer holds
			r.Clear = &Condition{Op: negate[r.Raise.Op], Value: r.Raise.Value, Factor: r.Raise.Factor}
		}
		if err := r.Clear.validate("clear"); err != nil {
			return err
		}
	case Rise:
		if r.Field == "" || r.Delta <= 0 || r.Window <= 0 {
			return errors.New("a rise rule needs field, delta > 0 and window")
		}
	case Stuck:
		if r.Field == "" || r.For <= 0 {
			return errors.New("a stuck rule needs field and for")
		}
	case Event:
		if len(r.Types) == 0 {
			return errors.New("an event rule needs types")
		}
		for _, typ := range r.Types {
			for _, lang := range languages {
				if _, ok := eventNames[lang][typ]; !ok {
					return fmt.Errorf("types: event type %q has no %s name; name it in internal/alert/words.go", typ, lang)
				}
			}
		}
		if r.ClearAfter == 0 {
			r.ClearAfter = Dur(15 * time.Minute)
		}
	case Silence:
		if len(r.Timeouts) == 0 {
			return errors.New("a silence rule needs timeouts per device kind")
		}
		for k, d := range r.Timeouts {
			if registry.Kind(k) != registry.Camera && registry.Kind(k) != registry.NVR && registry.Kind(k) != registry.Sensor && registry.Kind(k) != registry.Gateway {
				return fmt.Errorf("timeouts: %q is not camera, nvr, sensor or gateway", k)
			}
			if d <= 0 {
				return fmt.Errorf("timeouts.%s must be positive", k)
			}
		}
		if r.Mass.Fraction == 0 {
			r.Mass.Fraction = 0.5
		}
		if r.Mass.MinDevices == 0 {
			r.Mass.MinDevices = 5
		}
		if r.Mass.Fraction < 0 || r.Mass.Fraction > 1 || r.Mass.MinDevices < 1 {
			return errors.New("mass: fraction between 0 and 1, min_devices at least 1")
		}
	default:
		return fmt.Errorf("kind %q: use threshold, rise, stuck, event or silence", r.Kind)
	}
	if r.Measurement == "" {
		r.Measurement = "telemetry"
		if r.Kind == Event {
			r.Measurement = "event"
		}
	}
	if r.Message["vi"] == "" || r.Message["en"] == "" {
		return errors.New("message needs vi and en templates")
	}
	r.tmpl = map[string]*template.Template{}
	for lang, text := range r.Message {
		t, err := template.New(r.ID + "." + lang).Option("missingkey=error").Funcs(templateFuncs(lang)).Parse(text)
		if err != nil {
			return fmt.Errorf("message.%s: %w", lang, err)
		}
		r.tmpl[lang] = t
	}
	return nil
}

var negate = map[string]string{">": "<=", ">=": "<", "<": ">=", "<=": ">", "==": "!=", "!=": "=="}

// Applies reports whether the rule's scope includes d.
func (r *Rule) Applies(d *registry.Device) bool {
	in := func(list []string, v string) bool {
		if len(list) == 0 {
			return true
		}
		for _, x := range list {
			if x == v {
				return true
			}
		}
		return false
	}
	kindOK := len(r.Scope.Kinds) == 0
	for _, k := range r.Scope.Kinds {
		kindOK = kindOK || k == d.Kind
	}
	return kindOK && in(r.Scope.Districts, d.District) && in(r.Scope.Devices, d.ID)
}

// Line is where the rule starts in its file.
func (r *Rule) Line() int { return r.line }
