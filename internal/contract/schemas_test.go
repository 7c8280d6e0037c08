package contract_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// compileSchemas compiles the embedded schemas, each under its file name.
func compileSchemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	names, err := fs.Glob(contract.Schemas, "schemas/*.schema.json")
	if err != nil || len(names) < 6 {
		t.Fatalf("schemas: %v %v", names, err)
	}
	for _, n := range names {
		b, _ := contract.Schemas.ReadFile(n)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if err := c.AddResource(strings.TrimPrefix(n, "schemas/"), doc); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
	}
	out := map[string]*jsonschema.Schema{}
	for _, n := range names {
		name := strings.TrimPrefix(n, "schemas/")
		s, err := c.Compile(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[strings.TrimSuffix(name, ".schema.json")] = s
	}
	return out
}

func schemaAccepts(t *testing.T, s *jsonschema.Schema, body string) bool {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(body))
	if err != nil {
		return false
	}
	return s.Validate(v) == nil
}

// TestSchemasAgreeWithTheParser: the JSON Schemas integrators validate
// against accept and refuse what ingest's parser does, for a corpus of
// payloads of every JSON form on every channel (what the parser checks
// beyond them: field types declared in the registry, the time window, the
// SenML name grammar). Every JSON example of docs/MQTT.md is valid.
func TestSchemasAgreeWithTheParser(t *testing.T) {
	schemas := compileSchemas(t)
	now := time.Now()
	ms := now.UnixMilli()
	type tc struct {
		ch   payload.Channel
		body string
	}
	corpus := []tc{
		{payload.Telemetry, `{"pm25": 35.2, "temp": 31.5, "door_open": false, "note": "ok"}`},
		{payload.Telemetry, `{"ts": ` + itoa(ms) + `, "pm25": 35.2}`},
		{payload.Telemetry, `{"ts": "` + now.Format(time.RFC3339) + `", "tên": "Cầu Gia Bảy"}`},
		{payload.Telemetry, `{"ts": ` + itoa(ms) + `}`},
		{payload.Telemetry, `{}`},
		{payload.Telemetry, `{"pm25": null}`},
		{payload.Telemetry, `{"pm25": {"v": 1}}`},
		{payload.Telemetry, `{"pm25": [1, 2]}`},
		{payload.Telemetry, `{"_x": 1}`},
		{payload.Telemetry, `{"time": 1}`},
		{payload.Telemetry, `{"district": "x"}`},
		{payload.Telemetry, `{"device": "aq-1", "pm25": 1}`},
		{payload.Telemetry, `{"ts": true, "pm25": 1}`},
		{payload.Telemetry, `{"ts": "yesterday", "pm25": 1}`},
		{payload.Telemetry, `{"note": "` + strings.Repeat("x", 4097) + `"}`},
		{payload.Telemetry, `{"` + strings.Repeat("k", 129) + `": 1}`},
		{payload.Telemetry, `[{"bn": "aq-1:", "n": "pm25", "v": 35}, {"n": "on", "vb": true}, {"n": "mode", "vs": "auto"}]`},
		{payload.Telemetry, `[{"n": "a", "v": 1, "vs": "x"}]`},
		{payload.Telemetry, `[{"n": "a", "v": 1, "x_": 2}]`},
		{payload.Telemetry, `[{"n": "a", "v": "1"}]`},
		{payload.Telemetry, `[]`},
		{payload.Telemetry, `[1]`},
		{payload.Telemetry, `[{"n": "a", "vb": 1}]`},
		{payload.Telemetry, `[{"n": "a", "v": 1, "bver": 11}]`},
		{payload.Telemetry, `{"batch": [{"device": "aq-1", "pm25": 1}, {"device": "aq-2", "ts": ` + itoa(ms) + `, "pm25": 2}]}`},
		{payload.Telemetry, `{"batch": [{"pm25": 1}]}`},
		{payload.Telemetry, `{"batch": []}`},
		{payload.Telemetry, `{"batch": [1]}`},
		{payload.Telemetry, `{"batch": [{"device": 7, "pm25": 1}]}`},
		{payload.Telemetry, `{"batch": [{"device": "aq-1"}]}`},
		{payload.Status, `{"state": "online", "recording": true, "fps": 25, "bitrate_kbps": 2048, "storage_pct": 83.5, "tamper": false}`},
		{payload.Status, `{"state": "asleep"}`},
		{payload.Status, `{"state": 1}`},
		{payload.Status, `{"storage_pct": 101}`},
		{payload.Status, `{"fps": -1}`},
		{payload.Status, `{"recording": "yes"}`},
		{payload.Status, `{"disks_failed": 1}`},
		{payload.Status, `{"batch": [{"device": "cam-1", "state": "online"}, {"device": "cam-2", "state": "offline"}]}`},
		{payload.Status, `{"batch": [{"device": "cam-1", "state": "asleep"}]}`},
		{payload.Event, `{"type": "tamper", "zone": "gate 2", "confidence": 0.9}`},
		{payload.Event, `{"type": "Tamper"}`},
		{payload.Event, `{"zone": "x"}`},
		{payload.Event, `{"type": ""}`},
		{payload.Event, `{"type": 1}`},
		{payload.Event, `{"type": "door", "count": "two"}`},
		{payload.Event, `{"batch": [{"device": "cam-1", "type": "motion"}]}`},
	}
	// Every JSON example of docs/MQTT.md.
	doc, err := os.ReadFile("../../docs/MQTT.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)\\*\\*Topic\\*\\* `ioc/v1/[^/]+/[^/]+/([a-z]+)`\\n```json\\n(.*?)```")
	examples := 0
	for _, m := range re.FindAllStringSubmatch(string(doc), -1) {
		corpus = append(corpus, tc{payload.Channel(m[1]), m[2]})
		examples++
		if !schemaAccepts(t, schemas[m[1]], m[2]) {
			t.Errorf("docs/MQTT.md example on %s is not valid by %s.schema.json:\n%s", m[1], m[1], m[2])
		}
	}
	if examples < 5 {
		t.Fatalf("found %d JSON examples in docs/MQTT.md", examples)
	}
	p := payload.NewParser(payload.DefaultLimits)
	for _, c := range corpus {
		_, perr := p.Parse(nil, c.ch, "dev-1", []byte(c.body), now)
		parser := perr == nil
		if !json.Valid([]byte(c.body)) {
			t.Fatalf("corpus entry is not JSON: %s", c.body)
		}
		if schema := schemaAccepts(t, schemas[string(c.ch)], c.body); schema != parser {
			t.Errorf("%s %.120s: schema accepts %v, parser accepts %v (%v)", c.ch, c.body, schema, parser, perr)
		}
	}
}

// TestReportSchema: a report as ingest writes it is valid.
func TestReportSchema(t *testing.T) {
	schemas := compileSchemas(t)
	body := `{"ts":"2026-11-23T03:00:00Z","topic":"ioc/v1/envsense/aq-tp-01/telemetry","device":"aq-tp-01","channel":"telemetry","reason":"wrong_type","error":"x","payload_bytes":16,"payload_head":"{\"pm25\": \"high\"}"}`
	if !schemaAccepts(t, schemas["report"], body) {
		t.Error("a report is not valid by report.schema.json")
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
