package contract

// The server topic tree (docs/ALERTS.md "Server topics"). Only server
// accounts (roles ingest and web) may publish or subscribe under it; the
// broker's ACL (internal/access) is built from these names.
const (
	// ServerRoot starts every server topic.
	ServerRoot = "ioc/server/v1/"
	// ServerFilter matches the whole server tree: what server accounts
	// subscribe within.
	ServerFilter = ServerRoot + "#"

	// AlertsPrefix + <rule>/<device>: the retained active alert; an empty
	// message when it resolves.
	AlertsPrefix = ServerRoot + "alerts/"
	// DevicesPrefix + <device>: the retained DeviceState.
	DevicesPrefix = ServerRoot + "devices/"
	// MaintenancePrefix + device:<id> | district:<id>: the retained open
	// window; empty when it ends.
	MaintenancePrefix = ServerRoot + "maintenance/"
	// EventsTopic carries every transition, in order, with its sequence
	// number.
	EventsTopic = ServerRoot + "events"
	// CommandsTopic carries Commands from IOC servers to the alert service.
	CommandsTopic = ServerRoot + "commands"
	// HandOffTopic carries commands a standby ingest's persistent session
	// still delivered after it stopped owning alerting, handed on to the
	// owner (which answers each command id once).
	HandOffTopic = ServerRoot + "commands/handed-off"
	// ResultsTopic carries a CommandResult for every command.
	ResultsTopic = ServerRoot + "command-results"

	// AlertOwnerTopic holds, retained, which ingest owns alerting when
	// several can (lease.Record as JSON: owner, epoch, renewed_at; released
	// when the owner stopped or its connection ended, by its last will).
	AlertOwnerTopic = ServerRoot + "alert-owner"

	// ObservationsPrefix + <client id>: what a forwarding ingest stored, as
	// line protocol, QoS 1, for its group's alert owner.
	ObservationsPrefix = ServerRoot + "observations/"
	// ObservationsFilter is what the alert owner subscribes to.
	ObservationsFilter = ObservationsPrefix + "+"

	// SyncPrefix + <client id> carries the marker an IOC server publishes
	// to itself after subscribing: the broker sends a subscription's
	// retained messages before it routes the client's next publish, so
	// when the marker comes back the retained burst is complete.
	SyncPrefix = ServerRoot + "sync/"
	// SyncFilter matches every IOC server's sync marker.
	SyncFilter = SyncPrefix + "+"
	// IngestSyncPrefix + <client id> carries the marker the alert service
	// publishes to itself when it lists the broker's retained alerts.
	IngestSyncPrefix = SyncPrefix + "ingest/"
	// IngestSyncFilter matches every alert service's marker.
	IngestSyncFilter = IngestSyncPrefix + "+"

	// RevokedPrefix + <token id> holds a logged-out session token's
	// revocation (auth.Revocation as JSON), retained so that an IOC server
	// that starts later learns it too. The first server to see one past its
	// token's expiry clears it, so the broker keeps at most a session TTL
	// of logouts.
	RevokedPrefix = ServerRoot + "sessions/revoked/"
	// RevokedFilter matches every revocation.
	RevokedFilter = RevokedPrefix + "+"

	// KiosksPrefix + <kiosk id> holds an enrolled wall's record
	// (kiosk.Record as JSON: name, who enrolled it and when, the hash of
	// its credential, and when revoked), retained so that every IOC
	// server, one started later too, accepts the wall and learns its
	// revocation. A revoked record stays, so an older one cannot return.
	KiosksPrefix = ServerRoot + "kiosks/"
	// KiosksFilter matches every wall's record.
	KiosksFilter = KiosksPrefix + "+"
)

// AlertTopic is the retained topic of the alert with id <rule>/<device>.
func AlertTopic(id string) string { return AlertsPrefix + id }

// DeviceStateTopic is the retained topic of device's state.
func DeviceStateTopic(device string) string { return DevicesPrefix + device }

// MaintenanceTopic is the retained topic of the window on target
// (device:<id> or district:<id>).
func MaintenanceTopic(target string) string { return MaintenancePrefix + target }

// PictureFilters are the server topics an IOC server follows to keep its
// picture: alerts, device states, maintenance windows, command results and
// the events (for the recently resolved list).
func PictureFilters() []string {
	return []string{AlertsPrefix + "#", DevicesPrefix + "#", MaintenancePrefix + "#", ResultsTopic, EventsTopic}
}

// RetainedFilters are the server topics whose retained messages must equal
// the alert service's state: active alerts and open maintenance windows.
func RetainedFilters() []string { return []string{AlertsPrefix + "#", MaintenancePrefix + "#"} }
