package dashboards

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/photo"
)

// contractJSPath is the pages' copy of the names they share with the
// server. It is generated: TestContractJSIsCurrent fails when it differs
// from what the Go constants give, and rewrites it when IOC_UPDATE_CONTRACT_JS=1.
const contractJSPath = "web/static/contract.js"

// contractJS renders the names the pages share with the server from
// internal/contract (ops, device status and health, the note bound) and
// internal/alert (severities, most severe first).
func contractJS() []byte {
	var b bytes.Buffer
	camel := func(s string) string {
		parts := strings.Split(s, "_")
		for i := 1; i < len(parts); i++ {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
		return strings.Join(parts, "")
	}
	// obj writes name: { value-in-camel-case: "value", ... }.
	obj := func(name string, values ...string) {
		fmt.Fprintf(&b, "  %s: Object.freeze({", name)
		for i, v := range values {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, " %s: %q", camel(v), v)
		}
		b.WriteString(" }),\n")
	}
	b.WriteString(`// The names the wall and technician pages share with the server.
// Generated from internal/contract and internal/alert by
// dashboards/contract_test.go: do not edit; regenerate with
//   IOC_UPDATE_CONTRACT_JS=1 go test ./dashboards -run TestContractJSIsCurrent
"use strict";

const CONTRACT = Object.freeze({
`)
	var ops []string
	for _, op := range contract.Ops() {
		ops = append(ops, string(op))
	}
	obj("op", ops...)
	obj("status", string(contract.StatusOnline), string(contract.StatusOffline), string(contract.StatusUnknown), string(contract.StatusCommissioning))
	obj("health", string(contract.HealthOK), string(contract.HealthDegraded), string(contract.HealthDown), string(contract.HealthUnknown))
	sevs := []alert.Severity{alert.Critical, alert.Major, alert.Minor, alert.Info}
	var names []string
	for _, s := range sevs {
		names = append(names, string(s))
	}
	obj("severity", names...)
	b.WriteString("  // most severe first\n  severities: Object.freeze([")
	for i, s := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", s)
	}
	b.WriteString("]),\n  severityRank: Object.freeze({")
	for i, s := range sevs {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " %s: %d", s, s.Rank())
	}
	b.WriteString(" }),\n")
	fmt.Fprintf(&b, "  // bytes; the API refuses a longer note (note_too_long)\n  maxNoteBytes: %d,\n", contract.MaxNoteBytes)
	fmt.Fprintf(&b, "  // MiB; the API refuses a larger photo of a fix (photo_too_large)\n  maxPhotoMiB: %d,\n});\n", photo.MaxBytes>>20)
	return b.Bytes()
}

func TestContractJSIsCurrent(t *testing.T) {
	want := contractJS()
	if os.Getenv("IOC_UPDATE_CONTRACT_JS") == "1" {
		if err := os.WriteFile(contractJSPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(contractJSPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not what the Go constants give; regenerate it with\n  IOC_UPDATE_CONTRACT_JS=1 go test ./dashboards -run TestContractJSIsCurrent\n--- want\n%s", contractJSPath, want)
	}
}

// TestPagesLoadContractFirst: every page loads contract.js before the
// scripts that read CONTRACT (common.js reads it as it loads).
func TestPagesLoadContractFirst(t *testing.T) {
	pages, err := filepath.Glob("web/*.html")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob("web/*/index.html")
	pages = append(pages, more...)
	if len(pages) < 3 {
		t.Fatalf("pages: %v", pages)
	}
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		html := string(b)
		first := strings.Index(html, `<script src="/static/`)
		if first < 0 {
			continue
		}
		c := strings.Index(html, `<script src="/static/contract.js"></script>`)
		if c < 0 {
			t.Errorf("%s does not load /static/contract.js", page)
			continue
		}
		for _, js := range []string{"common.js", "wall.js", "tech.js", "map.js", "login.js", "chart.js"} {
			if i := strings.Index(html, `<script src="/static/`+js+`"`); i >= 0 && i < c {
				t.Errorf("%s loads %s before contract.js", page, js)
			}
		}
	}
}
