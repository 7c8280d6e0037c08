package contract

import "embed"

// Schemas are the JSON Schemas (draft 2020-12) of the device payloads'
// JSON forms and of the _errors report, as integrators' tools read them:
// defs, telemetry, status, event, senml and report, each "<name>.schema.json"
// (they refer to each other by those names). The IOC server serves them
// at /api/schemas/<name>.schema.json. Ingest's parser is the validator;
// the schemas describe it, and TestSchemasAgreeWithTheParser keeps the two
// in step.
//
//go:embed schemas/*.schema.json
var Schemas embed.FS
