package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ioc-vn/ioc/internal/registry"
)

// Status is whether a device is heard from.
type Status string

// A device's status.
const (
	// StatusOnline: heard from since ingest started, and its offline alert
	// is not active.
	StatusOnline Status = "online"
	// StatusOffline: its offline (silence) alert is active.
	StatusOffline Status = "offline"
	// StatusUnknown: not heard from since ingest started.
	StatusUnknown Status = "unknown"
	// StatusCommissioning: registered before it is installed and not yet
	// heard from; no offline alert until it is (registry commissioning).
	StatusCommissioning Status = "commissioning"
)

// Health sums up a device's active alerts.
type Health string

// A device's health.
const (
	// HealthOK: heard from, no active alert.
	HealthOK Health = "ok"
	// HealthDegraded: an alert other than offline is active.
	HealthDegraded Health = "degraded"
	// HealthDown: offline.
	HealthDown Health = "down"
	// HealthUnknown: not heard from since ingest started.
	HealthUnknown Health = "unknown"
)

// DeviceState is the retained message on DeviceStateTopic(<device>): what
// the wall colours a marker or a camera tile by.
type DeviceState struct {
	ID         string        `json:"id"`
	Name       string        `json:"name"`
	Kind       registry.Kind `json:"kind"`
	District   string        `json:"district"`
	Integrator string        `json:"integrator"`
	Parent     string        `json:"parent,omitempty"`
	Lat        float64       `json:"lat"`
	Lon        float64       `json:"lon"`
	Status     Status        `json:"status"`
	Health     Health        `json:"health"`
	// Severity (an alert.Severity) of its worst active alert that is not
	// suppressed; empty when there is none.
	Severity    string    `json:"severity,omitempty"`
	Alerts      []string  `json:"alerts"`
	Maintenance bool      `json:"maintenance"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// UnknownDevice is the state of dev before anything is known of it.
func UnknownDevice(dev *registry.Device) DeviceState {
	return DeviceState{ID: dev.ID, Name: dev.Name, Kind: dev.Kind, District: dev.District, Integrator: dev.Integrator,
		Parent: dev.Parent, Lat: dev.Lat, Lon: dev.Lon, Status: StatusUnknown, Health: HealthUnknown, Alerts: []string{}}
}

// Op is what a command asks of the alert service.
type Op string

// The commands' ops.
const (
	OpAck              Op = "ack"
	OpResolve          Op = "resolve"
	OpMaintenanceStart Op = "maintenance_start"
	OpMaintenanceEnd   Op = "maintenance_end"
	// OpCommission marks a commissioning device live (Target device:<id>)
	// although it has not reported: its offline alert counts from now.
	OpCommission Op = "commission"
	// Dispatch (docs/ALERTS.md "Dispatch"): OpAssign gives an alert to
	// Assignee (user:<username> or team:<team id>); the others are the
	// technician's steps, in this order (en_route may be skipped). The
	// alert service refuses a step out of order; the IOC server checks who
	// may take it.
	OpAssign  Op = "assign"
	OpAccept  Op = "accept"
	OpEnRoute Op = "en_route"
	OpOnSite  Op = "on_site"
	OpFixed   Op = "fixed"
)

// Ops lists every op, in the order the docs give them.
func Ops() []Op {
	return []Op{OpAck, OpResolve, OpMaintenanceStart, OpMaintenanceEnd, OpCommission, OpAssign, OpAccept, OpEnRoute, OpOnSite, OpFixed}
}

// Valid reports whether op is one of Ops.
func (op Op) Valid() bool {
	switch op {
	case OpAck, OpResolve, OpMaintenanceStart, OpMaintenanceEnd, OpCommission:
		return true
	}
	return op.Dispatch()
}

// Dispatch reports whether op is a dispatch step (assign and after).
func (op Op) Dispatch() bool {
	switch op {
	case OpAssign, OpAccept, OpEnRoute, OpOnSite, OpFixed:
		return true
	}
	return false
}

// ValidAssignee reports whether a names a user (user:<username>) or a team
// (team:<team id>), at most MaxByBytes.
func ValidAssignee(a string) bool {
	kind, id, ok := strings.Cut(a, ":")
	return ok && (kind == "user" || kind == "team") && id != "" && len(a) <= MaxByBytes
}

// Bounds on a command, enforced by the alert service on CommandsTopic and
// by the IOC server's API before it sends one.
const (
	// MaxCommandBytes bounds one command message.
	MaxCommandBytes = 8 << 10
	// MaxByBytes bounds the operator's name.
	MaxByBytes = 128
	// MaxNoteBytes bounds an operator's note (the API's openapi.yaml and
	// the pages promise 2000).
	MaxNoteBytes = 2000
)

// Command is a message on CommandsTopic. Only server accounts may publish
// there (the broker's ACL); By is the operator the IOC server
// authenticated.
type Command struct {
	// ID is the sender's, echoed in the result.
	ID string `json:"id"`
	Op Op     `json:"op"`
	// Alert is the alert id, for ack and resolve.
	Alert string `json:"alert,omitempty"`
	// Target is device:<id> or district:<id>, for maintenance.
	Target string    `json:"target,omitempty"`
	Until  time.Time `json:"until,omitzero"`
	// Assignee is user:<username> or team:<team id>, for assign.
	Assignee string `json:"assignee,omitempty"`
	By       string `json:"by"`
	Note     string `json:"note,omitempty"`
	// Photo is the id of the photo the IOC server keeps of the fix, for
	// fixed only (ValidPhotoID).
	Photo string `json:"photo,omitempty"`
}

// ValidPhotoID reports whether id is a photo id: 32 lowercase hex digits.
func ValidPhotoID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// CommandResult is published on ResultsTopic for every command.
type CommandResult struct {
	ID    string `json:"id"`
	Op    Op     `json:"op"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// ParseCommand decodes and checks a command: the documented shape (unknown
// keys are refused), the bounds, and the fields its op needs. On error the
// fields that could be read are still set, so the result can echo its id.
func ParseCommand(b []byte) (Command, error) {
	var c Command
	if len(b) > MaxCommandBytes {
		return c, fmt.Errorf("command of %d bytes: at most %d", len(b), MaxCommandBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Command{}, fmt.Errorf("command is not valid JSON of the documented shape: %w", err)
	}
	switch {
	case c.By == "" || len(c.By) > MaxByBytes:
		return c, fmt.Errorf("command needs by (who), at most %d bytes", MaxByBytes)
	case len(c.Note) > MaxNoteBytes:
		return c, fmt.Errorf("note of %d bytes: at most %d", len(c.Note), MaxNoteBytes)
	}
	if c.Photo != "" && (c.Op != OpFixed || !ValidPhotoID(c.Photo)) {
		return c, fmt.Errorf("photo: only with %s, 32 lowercase hex digits", OpFixed)
	}
	switch c.Op {
	case OpAck, OpResolve, OpAccept, OpEnRoute, OpOnSite, OpFixed:
		if c.Alert == "" {
			return c, fmt.Errorf("%s needs alert", c.Op)
		}
	case OpAssign:
		if c.Alert == "" || !ValidAssignee(c.Assignee) {
			return c, fmt.Errorf("%s needs alert and assignee (user:<username> or team:<team id>)", c.Op)
		}
	case OpMaintenanceStart, OpMaintenanceEnd:
		if c.Target == "" {
			return c, fmt.Errorf("%s needs target (device:<id> or district:<id>)", c.Op)
		}
	case OpCommission:
		if !strings.HasPrefix(c.Target, "device:") {
			return c, fmt.Errorf("%s needs target device:<id>", c.Op)
		}
	default:
		return c, fmt.Errorf("op %q: use ack, resolve, maintenance_start, maintenance_end, commission, assign, accept, en_route, on_site or fixed", c.Op)
	}
	return c, nil
}
