package access_test

import (
	"testing"

	"github.com/ioc-vn/ioc/internal/access"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/ingest"
	"github.com/ioc-vn/ioc/internal/registry"
)

// TestServerRolesMatchTheProcesses: the ingest and web roles allow every
// topic those processes really use (internal/contract's names), and not
// each other's.
func TestServerRolesMatchTheProcesses(t *testing.T) {
	h, err := access.Hash("x", 1000)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.New(registry.File{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := access.New(access.File{Accounts: []access.Account{
		{Username: "ioc-ingest", PasswordHash: h, Role: access.RoleIngest},
		{Username: "ioc-server", PasswordHash: h, Role: access.RoleWeb},
	}}, reg)
	if err != nil {
		t.Fatal(err)
	}
	ing, _ := p.Account("ioc-ingest")
	web, _ := p.Account("ioc-server")
	for _, c := range []struct {
		a       *access.Account
		topic   string
		publish bool // else subscribe
		want    bool
	}{
		{ing, "ioc/v1/acme/_errors", true, true},
		{ing, contract.AlertsPrefix + "rule/dev", true, true},
		{ing, contract.DevicesPrefix + "dev", true, true},
		{ing, contract.MaintenancePrefix + "district:d1", true, true},
		{ing, contract.EventsTopic, true, true},
		{ing, contract.ResultsTopic, true, true},
		{ing, contract.ObservationsPrefix + "ingest-1", true, true},
		{ing, contract.CommandsTopic, true, false},
		{ing, contract.AlertOwnerTopic, true, true},
		{ing, contract.AlertOwnerTopic, false, true},
		{web, contract.AlertOwnerTopic, true, false},
		{ing, contract.HandOffTopic, true, true},
		{web, contract.HandOffTopic, true, false},
		{ing, contract.IngestSyncPrefix + "ingest-1", true, true},
		{web, contract.IngestSyncPrefix + "ingest-1", true, false},
		{ing, contract.RevokedPrefix + "abc", true, false},
		{ing, ingest.SubscribeFilters()[0], false, true},
		{ing, "$share/ingest/" + ingest.SubscribeFilters()[0], false, true},
		{ing, contract.CommandsTopic, false, true},
		{ing, contract.ObservationsFilter, false, true},
		{web, contract.CommandsTopic, true, true},
		{web, contract.SyncPrefix + "ioc-web-1", true, true},
		{web, contract.SyncPrefix + "ioc-web-1", false, true},
		{web, contract.RevokedPrefix + "abc", true, true},
		{web, "ioc/v1/acme/dev/status", true, false},
		{web, contract.AlertsPrefix + "rule/dev", true, false},
		{web, contract.DevicesPrefix + "dev", true, false},
		{web, ingest.SubscribeFilters()[0], false, false},
	} {
		got := c.a.CanSubscribe(c.topic)
		if c.publish {
			got = c.a.CanPublish(c.topic)
		}
		if got != c.want {
			t.Errorf("%s publish=%v %s: %v, want %v", c.a.Username, c.publish, c.topic, got, c.want)
		}
	}
	for _, f := range contract.PictureFilters() {
		if !web.CanSubscribe(f) {
			t.Errorf("web may not subscribe to %s, which the IOC server follows", f)
		}
	}
}
