package allinone_test

import (
	"io"
	"testing"

	"github.com/ioc-vn/ioc/internal/allinone"
)

func noEnv(string) string { return "" }

// TestShippedConfig: the IOC server and the simulator follow ingest's
// broker, store and registry; IOC_BROKER_LISTEN and IOC_SIMULATE change
// them as README says.
func TestShippedConfig(t *testing.T) {
	a, err := allinone.LoadConfig([]string{"-config", "../../configs/all-in-one.yaml"}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if a.IOC.MQTT.Broker != "tcp://127.0.0.1:1883" || a.IOC.EmbeddedStore != a.Ingest.StorePath() ||
		a.IOC.Registry != "configs/province.yaml" || a.Simulator.Broker != a.IOC.MQTT.Broker || !a.Simulate {
		t.Fatalf("all-in-one derived settings: %+v", a)
	}
	// Notifications name the IOC server's users as its users say.
	for _, u := range a.IOC.Auth.Users {
		if got := a.Ingest.Notify.People[u.Username]; got != u.Name {
			t.Errorf("notifications name %s %q; want %q", u.Username, got, u.Name)
		}
	}
	if len(a.IOC.Auth.Users) == 0 {
		t.Error("the shipped all-in-one has no users")
	}
	a, err = allinone.LoadConfig([]string{"-config", "../../configs/all-in-one.yaml"}, func(k string) string {
		return map[string]string{"IOC_BROKER_LISTEN": "127.0.0.1:2883", "IOC_SIMULATE": "false"}[k]
	}, io.Discard)
	if err != nil || a.IOC.MQTT.Broker != "tcp://127.0.0.1:2883" || a.Simulate {
		t.Fatalf("all-in-one with IOC_BROKER_LISTEN and IOC_SIMULATE: %+v, %v", a, err)
	}
}
