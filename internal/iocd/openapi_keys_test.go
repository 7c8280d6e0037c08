package iocd_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/api"
	"github.com/ioc-vn/ioc/internal/testenv"
	"gopkg.in/yaml.v3"
)

// TestAPIKeysMatchOpenAPI compares the JSON the API serves (devices, a
// device, alerts, a device's history and alert history) with the schemas
// in openapi.yaml: a key the description does not list, misspelled or
// undocumented, fails the test. The data is made so that every nested
// object the description names (profile, active_alerts, ack, series and
// samples, message) is present at least once.
func TestAPIKeysMatchOpenAPI(t *testing.T) {
	sys := startIngest(t)
	base := startIOC(t, iocConfig(t, sys, "openapi"))
	vms := integrator(t, sys, "vms-tn")
	const cam = "cam-bvtw-01"
	vms(cam, "status", `{"state": "online", "recording": true, "signal": true, "fps": 25, "bitrate_kbps": 2048}`)
	vms(cam, "event", `{"type": "tamper", "zone": "hành lang tầng 2"}`)
	op := login(t, base, "operator")
	testenv.Eventually(t, 10*time.Second, func() error {
		var a struct{ Alerts []alertJSON }
		op.get("/api/v1/alerts", &a)
		for _, x := range a.Alerts {
			if x.ID == "camera-tamper/"+cam {
				return nil
			}
		}
		return fmt.Errorf("no camera-tamper alert yet: %+v", a.Alerts)
	})
	if status, body := op.do("POST", "/api/v1/alerts/camera-tamper/"+cam+"/ack", map[string]string{"note": "đã xem"}); status != 200 {
		t.Fatalf("ack: %d %s", status, body)
	}

	doc := loadOpenAPI(t)
	seen := map[string]bool{}
	check := func(path, route string, wantSeen ...string) {
		t.Helper()
		status, body := op.do("GET", path, nil)
		if status != 200 {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		schema := doc.response(t, route)
		for _, e := range doc.undocumented(schema, v, "", seen) {
			t.Errorf("GET %s: key %s is not in openapi.yaml's %s", path, e, route)
		}
		for _, k := range wantSeen {
			if !seen[k] {
				t.Errorf("GET %s: no %s in the answer, so the test did not check it: %s", path, k, body)
			}
		}
	}
	from := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	check("/api/v1/devices", "/api/v1/devices", "devices[].health")
	check("/api/v1/devices/"+cam, "/api/v1/devices/{id}", "profile.fps", "profile.bitrate_kbps", "active_alerts[].ack.note", "active_alerts[].message.vi")
	check("/api/v1/alerts", "/api/v1/alerts", "alerts[].ack.by")
	testenv.Eventually(t, 10*time.Second, func() error {
		var h struct{ Series []json.RawMessage }
		op.get("/api/v1/devices/"+cam+"/history?from="+from, &h)
		if len(h.Series) == 0 {
			return fmt.Errorf("no history yet")
		}
		return nil
	})
	check("/api/v1/devices/"+cam+"/history?from="+from, "/api/v1/devices/{id}/history", "series[].samples[].mean")
	check("/api/v1/alerts/history?device="+cam+"&from="+from, "/api/v1/alerts/history", "entries[].transition", "entries[].by")
}

// openAPI is openapi.yaml, decoded loosely enough to walk its schemas.
type openAPI struct {
	Paths      map[string]map[string]map[string]any `yaml:"paths"`
	Components struct {
		Schemas map[string]any `yaml:"schemas"`
	} `yaml:"components"`
}

func loadOpenAPI(t *testing.T) *openAPI {
	t.Helper()
	var doc openAPI
	if err := yaml.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	return &doc
}

// response is the schema of GET route's 200 answer.
func (d *openAPI) response(t *testing.T, route string) any {
	t.Helper()
	ok, _ := d.Paths[route]["get"]["responses"].(map[string]any)["200"].(map[string]any)
	content, _ := ok["content"].(map[string]any)
	js, _ := content["application/json"].(map[string]any)
	if js["schema"] == nil {
		t.Fatalf("openapi.yaml: GET %s has no 200 application/json schema", route)
	}
	return js["schema"]
}

// resolve follows a $ref.
func (d *openAPI) resolve(s any) map[string]any {
	m, _ := s.(map[string]any)
	if ref, ok := m["$ref"].(string); ok {
		return d.resolve(d.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")])
	}
	return m
}

// properties is an object schema's properties, allOf merged; nil when the
// schema does not list them (any key allowed, e.g. GeoJSON or value: {}).
func (d *openAPI) properties(s map[string]any) map[string]any {
	var props map[string]any
	if p, ok := s["properties"].(map[string]any); ok {
		props = map[string]any{}
		for k, v := range p {
			props[k] = v
		}
	}
	if all, ok := s["allOf"].([]any); ok {
		for _, part := range all {
			for k, v := range d.properties(d.resolve(part)) {
				if props == nil {
					props = map[string]any{}
				}
				props[k] = v
			}
		}
	}
	return props
}

// undocumented walks v against schema and returns the keys (as paths like
// alerts[].ack.by) the schema does not list; seen collects every path met.
func (d *openAPI) undocumented(schema, v any, at string, seen map[string]bool) []string {
	s := d.resolve(schema)
	var bad []string
	switch x := v.(type) {
	case map[string]any:
		props := d.properties(s)
		if props == nil {
			return nil
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := strings.TrimPrefix(at+"."+k, ".")
			seen[p] = true
			sub, ok := props[k]
			if !ok {
				bad = append(bad, p)
				continue
			}
			bad = append(bad, d.undocumented(sub, x[k], p, seen)...)
		}
	case []any:
		for _, e := range x {
			bad = append(bad, d.undocumented(s["items"], e, at+"[]", seen)...)
		}
	}
	return bad
}

// TestSchemasServed: the payload schemas are public (an integrator's tools
// fetch them without a session), with the content type of JSON Schema, and
// they refer to each other by the names they are served under.
func TestSchemasServed(t *testing.T) {
	sys := startIngest(t)
	base := startIOC(t, iocConfig(t, sys, "schemas"))
	for _, name := range []string{"telemetry", "status", "event", "senml", "report", "defs"} {
		resp, err := http.Get(base + "/api/schemas/" + name + ".schema.json")
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		err = json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if resp.StatusCode != 200 || err != nil || resp.Header.Get("Content-Type") != "application/schema+json" || doc["$id"] != name+".schema.json" {
			t.Errorf("%s: %d %q %v $id=%v", name, resp.StatusCode, resp.Header.Get("Content-Type"), err, doc["$id"])
		}
	}
	if resp, err := http.Get(base + "/api/schemas/../openapi.yaml"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 && resp.Header.Get("Content-Type") == "application/schema+json" {
			t.Error("a path outside the schemas was served as one")
		}
	}
}
