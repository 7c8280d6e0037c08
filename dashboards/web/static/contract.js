// The names the wall and technician pages share with the server.
// Generated from internal/contract and internal/alert by
// dashboards/contract_test.go: do not edit; regenerate with
//   IOC_UPDATE_CONTRACT_JS=1 go test ./dashboards -run TestContractJSIsCurrent
"use strict";

const CONTRACT = Object.freeze({
  op: Object.freeze({ ack: "ack", resolve: "resolve", maintenanceStart: "maintenance_start", maintenanceEnd: "maintenance_end", commission: "commission", assign: "assign", accept: "accept", enRoute: "en_route", onSite: "on_site", fixed: "fixed" }),
  status: Object.freeze({ online: "online", offline: "offline", unknown: "unknown", commissioning: "commissioning" }),
  health: Object.freeze({ ok: "ok", degraded: "degraded", down: "down", unknown: "unknown" }),
  severity: Object.freeze({ critical: "critical", major: "major", minor: "minor", info: "info" }),
  // most severe first
  severities: Object.freeze(["critical", "major", "minor", "info"]),
  severityRank: Object.freeze({ critical: 0, major: 1, minor: 2, info: 3 }),
  // bytes; the API refuses a longer note (note_too_long)
  maxNoteBytes: 2000,
  // MiB; the API refuses a larger photo of a fix (photo_too_large)
  maxPhotoMiB: 8,
});
