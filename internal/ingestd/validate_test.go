package ingestd_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ioc-vn/ioc/internal/httpingest"
	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/store/embedded"
)

// TestValidateEndpoint (integrator review: "a 'check a payload' box that
// validates without storing"): POST /v1/validate/... answers what ingest
// would make of a message, by the same checks, with the integrator's own
// account: the points it would store with the registry's tags, or the
// status, reason and error it would answer; for a gateway's pack, which
// devices' records it would refuse. Nothing is stored and nothing is
// published on _errors; another integrator's device is refused as for
// ingest.
func TestValidateEndpoint(t *testing.T) {
	var c *ingestd.Config
	ing, base := startHTTPIngest(t, func(cc *ingestd.Config) { c = cc; cc.Broker.AllowAnonymous = false })
	base = strings.Replace(base, "/v1/ingest/", "/v1/validate/", 1)
	env := connectTenant(t, ing.BrokerURL, "envsense")
	check := func(path, user, body string, code int) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		req.SetBasicAuth(user, "demo-"+user)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s: not JSON: %q", path, b)
		}
		if resp.StatusCode != code {
			t.Errorf("%s %s: %d %s, want %d", path, body, resp.StatusCode, b, code)
		}
		return out
	}

	ok := check("envsense/aq-tp-01/telemetry", "envsense", `{"ts": 1795402800123, "pm25": 35.2}`, 200)
	var got httpingest.Checked
	b, _ := json.Marshal(ok)
	_ = json.Unmarshal(b, &got)
	if !got.Valid || len(got.Points) != 1 || !strings.HasPrefix(got.Points[0], "telemetry,device=aq-tp-01,district=tp-thai-nguyen,integrator=envsense,kind=sensor,") ||
		!strings.HasSuffix(got.Points[0], " pm25=35.2 1795402800123000000") {
		t.Errorf("valid reading: %s", b)
	}
	bad := check("envsense/aq-tp-01/telemetry", "envsense", `{"pm25": "high"}`, 422)
	if bad["valid"] != false || bad["reason"] != "wrong_type" || !strings.Contains(bad["error"].(string), "pm25") {
		t.Errorf("wrong type: %v", bad)
	}
	if r := check("envsense/aq-ghost/telemetry", "envsense", `{"pm25": 1}`, 404); r["reason"] != "unknown_device" {
		t.Errorf("unknown device: %v", r)
	}
	if r := check("vms-tn/cam-bvtw-01/status", "envsense", `{"state": "online"}`, 403); r["reason"] != "forbidden" {
		t.Errorf("another integrator's device: %v", r)
	}
	pack := check("envsense/gw-env-tp/telemetry", "envsense", `[{"bn": "aq-tp-02:", "n": "pm25", "v": 12}, {"bn": "cam-bvtw-01:", "n": "x", "v": 1}]`, 200)
	if refused, _ := pack["refused"].([]any); len(refused) != 1 || refused[0].(map[string]any)["device"] != "cam-bvtw-01" ||
		refused[0].(map[string]any)["reason"] != "foreign_device" {
		t.Errorf("gateway pack with another's camera: %v", pack)
	}
	if pts, _ := pack["points"].([]any); len(pts) != 1 || !strings.HasPrefix(pts[0].(string), "telemetry,device=aq-tp-02,") {
		t.Errorf("gateway pack's own device: %v", pack)
	}

	// Checked, not stored, not reported.
	ing.stop()
	st, err := embedded.Open(context.Background(), c.StorePath())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, id := range []string{"aq-tp-01", "aq-tp-02", "gw-env-tp"} {
		if lines := storedLines(t, st, id); len(lines) != 0 {
			t.Errorf("%s: validation stored %q", id, lines)
		}
	}
	env.none(t)
}
