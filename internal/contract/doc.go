// Package contract is what crosses a process boundary over MQTT, and
// nothing else: the device topic grammar (ioc/v1/<integrator>/<device>/<channel>
// and the integrators' _errors topics), the server topic tree
// (ioc/server/v1/...), the wire types on it (device state, commands and
// their results, with typed ops, statuses and health), the alert-history
// point that ingest writes and the IOC server reads back, and the limits
// both sides enforce. docs/MQTT.md and docs/ALERTS.md describe it; the web
// pages read the same names from dashboards/web/static/contract.js, which
// dashboards/contract_test.go generates from this package and keeps
// current.
//
// It imports only value packages (point, payload, registry) so that both
// the ingest side (ingest, alertd, broker) and the IOC server side (live,
// api, stream) can depend on it without depending on each other.
package contract
