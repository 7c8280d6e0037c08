package dashboards_test

import (
	"encoding/json"
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/ioc-vn/ioc/dashboards"
	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/api"
	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/registry"
)

// dictionaries reads static/i18n.js: after "const IOCDict =" it is JSON.
func dictionaries(t *testing.T) map[string]map[string]string {
	t.Helper()
	b, err := fs.ReadFile(dashboards.Web(), "static/i18n.js")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	const decl = "\nconst IOCDict ="
	i := strings.Index(s, decl)
	if i < 0 {
		t.Fatalf("i18n.js: no %q", decl)
	}
	body := strings.TrimSuffix(strings.TrimSpace(s[i+len(decl):]), ";")
	var d map[string]map[string]string
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatalf("i18n.js: the dictionary is not plain JSON: %v", err)
	}
	return d
}

// usedKeys are the keys the pages name literally: data-i18n attributes
// and t("…") calls.
func usedKeys(t *testing.T) []string {
	t.Helper()
	re := regexp.MustCompile(`data-i18n(?:-placeholder)?="([a-z0-9_-]+)"|\bt\("([a-z0-9_-]+)"\)`)
	seen := map[string]bool{}
	err := fs.WalkDir(dashboards.Web(), ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && path == "vendor" {
			return fs.SkipDir // libraries from npm: their own words, none shown
		}
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".js") || strings.HasSuffix(path, ".html")) {
			return err
		}
		b, err := fs.ReadFile(dashboards.Web(), path)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			seen[m[1]+m[2]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestDictionariesCoverEverything: Vietnamese and English have the same
// keys, none empty, and every word the pages can show has an entry: each
// key the pages use, device kind, status and health value, alert
// transition, rule, event type, rule field, and API error code.
func TestDictionariesCoverEverything(t *testing.T) {
	d := dictionaries(t)
	vi, en := d["vi"], d["en"]
	if len(vi) == 0 || len(en) == 0 {
		t.Fatalf("dictionaries: vi %d keys, en %d", len(vi), len(en))
	}
	for lang, words := range d {
		for k, v := range words {
			if strings.TrimSpace(v) == "" {
				t.Errorf("%s: %q is empty", lang, k)
			}
		}
	}
	for k := range vi {
		if _, ok := en[k]; !ok {
			t.Errorf("%q has Vietnamese but no English", k)
		}
	}
	for k := range en {
		if _, ok := vi[k]; !ok {
			t.Errorf("%q has English but no Vietnamese", k)
		}
	}

	need := usedKeys(t)
	for _, k := range []registry.Kind{registry.Camera, registry.NVR, registry.Sensor, registry.Gateway} {
		need = append(need, string(k))
	}
	need = append(need, "online", "offline", "unknown", "ok", "degraded", "down", "maintenance")
	for _, tr := range []alert.TransitionKind{alert.Raised, alert.Updated, alert.Reopened, alert.Renotified, alert.Acked, alert.Cleared,
		alert.Folded, alert.Surfaced, alert.Suppressed, alert.Unsuppressed} {
		need = append(need, "transition_"+string(tr))
	}
	for _, s := range []alert.Severity{alert.Critical, alert.Major, alert.Minor, alert.Info} {
		need = append(need, string(s))
	}
	rules, err := alert.LoadRules("../configs/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Event types integrators are told to send (docs/MQTT.md), and those
	// the rules react to.
	events := []string{"tamper", "motion", "intrusion", "door", "video_loss", "scene_change", "blur", "freeze"}
	for _, r := range rules.List {
		need = append(need, "rule_"+r.ID)
		events = append(events, r.Types...)
		if r.Field != "" {
			need = append(need, "field_"+r.Field)
		}
	}
	for _, e := range events {
		need = append(need, "event_"+e)
	}
	for _, c := range api.ErrorCodes {
		need = append(need, "err_"+c)
	}
	// The integrator's page names every _errors reason.
	for _, r := range payload.Reasons {
		need = append(need, "reason_"+string(r))
	}
	for _, k := range need {
		if _, ok := vi[k]; !ok {
			t.Errorf("no Vietnamese for %q", k)
		}
		if _, ok := en[k]; !ok {
			t.Errorf("no English for %q", k)
		}
	}
}
