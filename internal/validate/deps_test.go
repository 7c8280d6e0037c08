package validate_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestValidateIsLight: the IOC server runs these checks without linking
// ingest, so this package depends only on the wire's value packages.
func TestValidateIsLight(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "github.com/ioc-vn/ioc/internal/validate").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	allowed := []string{"internal/validate", "internal/contract", "internal/point", "internal/payload", "internal/registry"}
	for _, p := range strings.Fields(string(out)) {
		if rest, ok := strings.CutPrefix(p, "github.com/ioc-vn/ioc/"); ok && !slices.Contains(allowed, rest) {
			t.Errorf("internal/validate depends on %s", rest)
		}
	}
}
