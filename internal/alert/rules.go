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

// Valid reports whether s is one of the four severities.
func (s Severity) Valid() bool { return s.valid() }

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

// Scope selects devices; empty lists match all.
type Scope struct {
	Kinds     []registry.Kind `yaml:"kinds" json:"kinds,omitempty"`
	Districts []string        `yaml:"districts" json:"districts,omitempty"`
	Devices   []string        `yaml:"devices" json:"devices,omitempty"`
}

// Rule is one alert rule of configs/rules.yaml. The keys every rule has
// are its own fields; each kind's keys are in its parameter struct, inlined
// so that the file stays flat ("raise:", not "threshold: {raise:}") and
// templates still see .Rule.Delta. Only the rule's own kind's keys are
// used; another kind's keys are accepted and ignored, as they always were.
type Rule struct {
	ID          string            `yaml:"id"`
	Kind        Kind              `yaml:"kind"`
	Severity    Severity          `yaml:"severity"`
	Scope       Scope             `yaml:"scope"`
	Measurement string            `yaml:"measurement"` // default telemetry (event for event rules)
	Field       string            `yaml:"field"`       // threshold, rise, stuck
	Message     map[string]string `yaml:"message"`     // "vi" and "en" templates

	ThresholdParams `yaml:",inline"`
	RiseParams      `yaml:",inline"`
	StuckParams     `yaml:",inline"`
	EventParams     `yaml:",inline"`
	SilenceParams   `yaml:",inline"`

	line int
	eval evaluator // its kind's, set by validate
	tmpl map[string]*template.Template
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
	ev, ok := evaluators[r.Kind]
	if !ok {
		return fmt.Errorf("kind %q: use threshold, rise, stuck, event or silence", r.Kind)
	}
	if err := ev.validate(r); err != nil {
		return err
	}
	r.eval = ev
	if r.Measurement == "" {
		r.Measurement = "telemetry"
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
