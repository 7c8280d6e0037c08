package dashboards_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"regexp"
	"testing"

	"github.com/ioc-vn/ioc/dashboards"
)

// TestVendoredLibraries: each library in web/vendor is the version
// dashboards/README.md names, with its licence beside it.
func TestVendoredLibraries(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile(`(?m)^\| ([a-z.]+) \| ([0-9.]+) \| ([A-Za-z0-9-]+) \|`).FindAllStringSubmatch(string(readme), -1)
	if len(rows) < 3 {
		t.Fatalf("README.md lists %d vendored libraries", len(rows))
	}
	web := dashboards.Web()
	dirs, err := fs.ReadDir(web, "vendor")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != len(rows) {
		t.Errorf("web/vendor holds %d libraries, README.md lists %d", len(dirs), len(rows))
	}
	for _, r := range rows {
		name, version := r[1], r[2]
		b, err := fs.ReadFile(web, "vendor/"+name+"/package.json")
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var p struct{ Name, Version, License string }
		if err := json.Unmarshal(b, &p); err != nil {
			t.Errorf("%s: package.json: %v", name, err)
			continue
		}
		if p.Name != name || p.Version != version || p.License != r[3] {
			t.Errorf("web/vendor/%s is %s %s (%s); README.md says %s %s", name, p.Name, p.Version, p.License, version, r[3])
		}
		lic, _ := fs.Glob(web, "vendor/"+name+"/*LICEN[CS]E*")
		if len(lic) == 0 {
			t.Errorf("web/vendor/%s has no licence file", name)
		}
	}
}
