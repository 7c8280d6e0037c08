package api

import (
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// TestOpenAPIDescribesEveryRoute: the description and the routes the
// server registers list the same methods and paths.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	var doc struct {
		OpenAPI string                               `yaml:"openapi"`
		Paths   map[string]map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	var described []string
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if _, ok := op["responses"]; !ok {
				t.Errorf("%s %s has no responses", method, path)
			}
			described = append(described, strings.ToUpper(method)+" "+path)
		}
	}
	served := append([]string(nil), Routes...)
	sort.Strings(described)
	sort.Strings(served)
	if strings.Join(described, "\n") != strings.Join(served, "\n") {
		t.Fatalf("openapi.yaml describes\n%s\n\nthe server serves\n%s", strings.Join(described, "\n"), strings.Join(served, "\n"))
	}
}

func TestWindowBoundsPoints(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		span, requested, want time.Duration
	}{
		{day, 0, 5 * time.Minute},
		{30 * day, 0, time.Hour},
		{30 * day, 6 * time.Hour, 6 * time.Hour},
		{time.Hour, time.Second, 5 * time.Second},
		{400 * day, 0, 12 * time.Hour},
	} {
		got := Window(c.span, c.requested, 1000)
		if got != c.want || c.span/got > 1000 {
			t.Errorf("Window(%s, %s) = %s, want %s", c.span, c.requested, got, c.want)
		}
	}
}
