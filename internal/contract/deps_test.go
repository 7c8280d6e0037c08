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

// TestProcessBoundary: the two processes meet only over MQTT (this
// package) and the store. The IOC server links neither the ingest
// pipeline, its spool and stamp journal, the alert service with its SQLite
// state, nor the broker; ingest links neither the web server, its
// sessions, the stream and the live picture, nor the simulator. Each
// process's configuration lives beside its wiring (internal/config knows
// no process), which is what keeps this true.
func TestProcessBoundary(t *testing.T) {
	for _, tc := range []struct {
		cmd       string
		forbidden []string
	}{
		{"cmd/ioc", []string{"internal/ingest", "internal/spool", "internal/stamp", "internal/alertd", "internal/broker",
			"internal/httpingest", "internal/quota", "internal/ingestd", "internal/sim", "internal/allinone"}},
		// (internal/access is allowed: the IOC server's provisioning edits
		// the credentials file, so it knows the accounts' format and hash;
		// it never checks an MQTT login.)
		{"cmd/ingest", []string{"internal/iocd", "internal/api", "internal/auth", "internal/kiosk", "internal/stream", "internal/live",
			"dashboards", "internal/sim", "internal/allinone"}},
		{"internal/config", []string{"internal/", "dashboards"}},
	} {
		for _, p := range deps(t, "github.com/ioc-vn/ioc/"+tc.cmd) {
			if p == tc.cmd {
				continue
			}
			for _, f := range tc.forbidden {
				if p == f || (strings.HasSuffix(f, "/") && strings.HasPrefix(p, f)) {
					t.Errorf("%s depends on %s", tc.cmd, p)
				}
			}
		}
	}
}
