package contract

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// deps lists the module's packages pkg depends on (go list -deps).
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	var own []string
	for _, p := range strings.Fields(string(out)) {
		if rest, ok := strings.CutPrefix(p, "github.com/ioc-vn/ioc/"); ok {
			own = append(own, rest)
		}
	}
	return own
}

// TestIOCServerSideLinksNoIngest: the IOC server's packages know the alert
// service only through this package, so they link neither the ingest
// pipeline nor the alert service with its SQLite state.
func TestIOCServerSideLinksNoIngest(t *testing.T) {
	for _, pkg := range []string{"live", "api", "stream"} {
		for _, p := range deps(t, "github.com/ioc-vn/ioc/internal/"+pkg) {
			switch p {
			case "internal/alertd", "internal/ingest", "internal/stamp", "internal/spool", "internal/store/embedded", "internal/broker":
				t.Errorf("internal/%s depends on %s", pkg, p)
			}
		}
	}
}

// TestContractIsLight: this package depends only on value packages, so
// that either side may import it.
func TestContractIsLight(t *testing.T) {
	allowed := []string{"internal/contract", "internal/point", "internal/payload", "internal/registry"}
	for _, p := range deps(t, "github.com/ioc-vn/ioc/internal/contract") {
		if !slices.Contains(allowed, p) {
			t.Errorf("internal/contract depends on %s", p)
		}
	}
}
