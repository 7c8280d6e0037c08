package production

import (
	"os"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestProductionAccountsExist: the production configs log in with
// accounts that the shipped credentials file has, with the role each
// process needs (ingest: ingest; the IOC server: web).
func TestProductionAccountsExist(t *testing.T) {
	var creds struct {
		Accounts []struct{ Username, Role string }
	}
	b, err := os.ReadFile(repo + "/configs/credentials.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &creds); err != nil {
		t.Fatal(err)
	}
	roles := map[string]string{}
	for _, a := range creds.Accounts {
		roles[a.Username] = a.Role
	}
	for file, role := range map[string]string{"ingest-production.yaml": "ingest", "ioc-production.yaml": "web"} {
		var c struct {
			MQTT struct{ Username string } `yaml:"mqtt"`
		}
		b, err := os.ReadFile(repo + "/configs/" + file)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		if got, ok := roles[c.MQTT.Username]; !ok || got != role {
			t.Errorf("configs/%s logs in as %q: in credentials.yaml %v with role %q, want role %s", file, c.MQTT.Username, ok, got, role)
		}
	}
}
