package access_test

import (
	"testing"

	"github.com/ioc-vn/ioc/internal/access"
	"github.com/ioc-vn/ioc/internal/alertd"
	"github.com/ioc-vn/ioc/internal/ingest"
	"github.com/ioc-vn/ioc/internal/iocd"
	"github.com/ioc-vn/ioc/internal/live"
	"github.com/ioc-vn/ioc/internal/registry"
)

// TestServerRolesMatchTheProcesses: the ingest and web roles allow every
// topic those processes really use (their packages' constants), and not
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
		{ing, alertd.AlertsTopic + "rule/dev", true, true},
		{ing, alertd.DevicesTopic + "dev", true, true},
		{ing, alertd.MaintenanceTopic + "district:d1", true, true},
		{ing, alertd.EventsTopic, true, true},
		{ing, alertd.ResultsTopic, true, true},
		{ing, alertd.ObservationsPrefix + "ingest-1", true, true},
		{ing, alertd.CommandsTopic, true, false},
		{ing, alertd.SweepMarkerTopic + "ingest-1", true, true},
		{web, alertd.SweepMarkerTopic + "ingest-1", true, false},
		{ing, iocd.RevokedTopic + "abc", true, false},
		{ing, ingest.SubscribeFilters()[0], false, true},
		{ing, "$share/ingest/" + ingest.SubscribeFilters()[0], false, true},
		{ing, alertd.CommandsTopic, false, true},
		{ing, alertd.ObservationsFilter, false, true},
		{web, alertd.CommandsTopic, true, true},
		{web, live.SyncTopic + "ioc-web-1", true, true},
		{web, live.SyncTopic + "ioc-web-1", false, true},
		{web, iocd.RevokedTopic + "abc", true, true},
		{web, "ioc/v1/acme/dev/status", true, false},
		{web, alertd.AlertsTopic + "rule/dev", true, false},
		{web, alertd.DevicesTopic + "dev", true, false},
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
	for _, f := range live.Topics() {
		if !web.CanSubscribe(f) {
			t.Errorf("web may not subscribe to %s, which the IOC server follows", f)
		}
	}
}
