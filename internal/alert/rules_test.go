package alert

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/registry"
)

func TestShippedRules(t *testing.T) {
	r, err := LoadRules("../../configs/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*Rule{}
	for _, x := range r.List {
		byID[x.ID] = x
	}
	pm := byID["pm25-high"]
	if pm == nil || time.Duration(pm.Raise.For) != 5*time.Minute || pm.Clear.Value != 120 {
		t.Fatalf("pm25-high: %+v", pm)
	}
	if d := byID["device-offline"]; d == nil || time.Duration(d.Timeouts["sensor"]) != 15*time.Minute {
		t.Fatalf("device-offline: %+v", d)
	}
	if len(r.List) != 13 {
		t.Fatalf("%d rules", len(r.List))
	}
}

func TestRulesRefused(t *testing.T) {
	f := func(yaml string, want ...string) {
		t.Helper()
		_, err := ParseRules([]byte(yaml))
		if err == nil {
			t.Fatalf("accepted:\n%s", yaml)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Fatalf("error %q does not contain %q", err, w)
			}
		}
	}
	const msg = "    message: {vi: x, en: y}\n"
	f("rules:\n  - id: a\n    kind: threshold\n    severity: major\n    field: pm25\n    raise: {op: '>', value: 1}\n    colour: red\n"+msg,
		"rule at line 2", "field colour not found")
	f("rules:\n  - id: a\n    kind: threshold\n    severity: urgent\n    field: x\n    raise: {op: '>', value: 1}\n"+msg, `line 2: rule "a": severity "urgent"`)
	f("rules:\n  - id: a\n    kind: threshold\n    severity: major\n    field: x\n    raise: {op: '=~', value: 1}\n"+msg, `raise.op "=~"`)
	f("rules:\n  - id: a\n    kind: threshold\n    severity: major\n    field: x\n    raise: {op: '>', value: 1, for: soon}\n"+msg, `"soon" is not a duration`)
	f("rules:\n  - id: a\n    kind: threshold\n    severity: major\n    field: x\n    raise: {op: '>', value: true}\n"+msg, "only be compared with == or !=")
	f("rules:\n  - id: a\n    kind: rise\n    severity: major\n    field: x\n"+msg, "delta > 0 and window")
	f("rules:\n  - id: a\n    kind: silence\n    severity: major\n    timeouts: {toaster: 1m}\n"+msg, `"toaster"`)
	f("rules:\n  - id: a\n    kind: event\n    severity: major\n    types: [tamper]\n    message: {vi: '{{.Nope'}\n", "message")
	f("rules:\n  - id: a\n    kind: event\n    severity: major\n    types: [tamper]\n"+msg+"  - id: a\n    kind: event\n    severity: major\n    types: [tamper]\n"+msg,
		`line 7: rule id "a" already used at line 2`)
	// Several problems are all reported.
	f("rules:\n  - id: a\n    kind: nope\n    severity: major\n"+msg+"  - id: b\n    kind: event\n    severity: nope\n    types: [x]\n"+msg,
		`line 2: rule "a": kind "nope"`, `line 6: rule "b": severity "nope"`)
}

// FuzzParseRules: no rules file panics the parser, and every rule it
// accepts is complete enough to evaluate.
func FuzzParseRules(f *testing.F) {
	if b, err := os.ReadFile("../../configs/rules.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("rules:\n  - {id: a, kind: rise, severity: info, field: x, delta: 1, window: 1m, message: {vi: a, en: b}}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRules(b)
		if err != nil {
			return
		}
		for _, x := range r.List {
			if x.ID == "" || !x.Severity.valid() || x.tmpl["vi"] == nil || x.tmpl["en"] == nil || x.Measurement == "" {
				t.Fatalf("accepted an incomplete rule: %+v", x)
			}
			if x.Kind == Threshold && (x.Raise == nil || x.Clear == nil || x.Raise.Factor == 0) {
				t.Fatalf("threshold without conditions: %+v", x)
			}
		}
	})
}

// TestShippedMessagesSpeakVietnamese renders every shipped rule's message
// for a device of each kind it watches, with each event type it reacts
// to: the Vietnamese text names the event in Vietnamese (no raw type such
// as "tamper"), writes decimals with a comma, and does not repeat the
// device's kind before its name ("Mực nước tại Mực nước…").
func TestShippedMessagesSpeakVietnamese(t *testing.T) {
	r, err := LoadRules("../../configs/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	names := map[registry.Kind]string{
		registry.Camera:  "Camera BVTW 01",
		registry.NVR:     "Đầu ghi Bệnh viện Trung ương",
		registry.Sensor:  "Mực nước sông Cầu - cầu Gia Bảy",
		registry.Gateway: "Bộ thu phát quan trắc TP. Thái Nguyên",
	}
	repeats := []string{"camera Camera", "Camera Camera", "Đầu ghi Đầu ghi", "Mực nước tại Mực nước", "Cảm biến Mực nước", "Cảm biến Trạm"}
	for _, rule := range r.List {
		kinds := rule.Scope.Kinds
		if len(kinds) == 0 {
			kinds = []registry.Kind{registry.Camera, registry.NVR, registry.Sensor, registry.Gateway}
		}
		values := []any{23.8}
		if rule.Kind == Event {
			values = nil
			for _, typ := range rule.Types {
				values = append(values, typ)
			}
		}
		for _, k := range kinds {
			d := &registry.Device{ID: "dev-1", Kind: k, Name: names[k], District: "dai-tu"}
			for _, v := range values {
				vi := render(rule, d, v)["vi"]
				t.Logf("%s %s %v: %s", rule.ID, k, v, vi)
				if typ, ok := v.(string); ok && strings.Contains(vi, typ) {
					t.Errorf("%s: %q shows the raw event type %q", rule.ID, vi, typ)
				}
				if _, ok := v.(float64); ok && strings.Contains(rule.Message["vi"], ".Value") && !strings.Contains(vi, "23,8") {
					t.Errorf("%s: %q does not write 23.8 as 23,8", rule.ID, vi)
				}
				for _, rep := range repeats {
					if strings.Contains(vi, rep) {
						t.Errorf("%s: %q repeats the kind (%q)", rule.ID, vi, rep)
					}
				}
			}
		}
	}
}

// TestEventTypesNeedNames: an event rule may not list a type the messages
// cannot name in every language.
func TestEventTypesNeedNames(t *testing.T) {
	_, err := ParseRules([]byte(`rules:
  - {id: cam-odd, kind: event, severity: major, types: [tamper, smoke_detected], message: {vi: "{{.Device.Name}}: {{event .Value}}", en: "{{.Device.Name}}: {{event .Value}}"}}
`))
	if err == nil || !strings.Contains(err.Error(), `"smoke_detected" has no vi name`) {
		t.Fatalf("err %v; want smoke_detected refused for want of a Vietnamese name", err)
	}
}
