package payload

import "fmt"

// Reason is a stable, documented code for why a message was refused. It is
// the label on the rejection metric and the "reason" on the errors topic, so
// values never change meaning once released.
type Reason string

const (
	ReasonTooLarge       Reason = "payload_too_large"
	ReasonEmpty          Reason = "empty_payload"
	ReasonInvalidUTF8    Reason = "invalid_utf8"
	ReasonMalformedJSON  Reason = "malformed_json"
	ReasonMalformedSenML Reason = "malformed_senml"
	ReasonMalformedLine  Reason = "malformed_line_protocol"
	ReasonWrongType      Reason = "wrong_type"
	ReasonNonFinite      Reason = "non_finite_number"
	ReasonInvalidValue   Reason = "invalid_value"
	ReasonMissingField   Reason = "missing_field"
	ReasonInvalidKey     Reason = "invalid_key"
	ReasonTooManyFields  Reason = "too_many_fields"
	ReasonTooManyPoints  Reason = "too_many_points"
	ReasonTimeOutOfRange Reason = "timestamp_out_of_range"
	ReasonUnknownChannel Reason = "unknown_channel"
	ReasonBadTopic       Reason = "bad_topic"
	ReasonUnknownDevice  Reason = "unknown_device"
	ReasonForeignDevice  Reason = "foreign_device"
	// ReasonDeviceRetired: the device was taken out of service.
	ReasonDeviceRetired Reason = "device_retired"
	// ReasonUnitChanged is a notice, not a refusal: a SenML reading's
	// unit differs from the one its field had; the value is stored.
	ReasonUnitChanged   Reason = "unit_changed"
	ReasonStoreRejected Reason = "store_rejected"
	ReasonQuota         Reason = "quota_exceeded"
	// ReasonTooOldForAlerts is a notice, not a refusal: the data is
	// stored, but stamped too long ago to raise or clear an alert.
	ReasonTooOldForAlerts Reason = "too_old_for_alerts"
	// ReasonReservedMeasurement: a line-protocol line names a measurement
	// that the server writes itself or that has its own channel.
	ReasonReservedMeasurement Reason = "reserved_measurement"
	// Cardinality bounds: each distinct tag set is a series the database
	// keeps for its retention.
	ReasonTooManyTags         Reason = "too_many_tags"
	ReasonTagTooLong          Reason = "tag_value_too_long"
	ReasonTooManySeries       Reason = "too_many_series"
	ReasonTooManyMeasurements Reason = "too_many_measurements"
)

// Reasons lists every Reason, for documentation and for pre-creating metric
// series so that a dashboard shows zeros rather than gaps.
var Reasons = []Reason{
	ReasonTooLarge, ReasonEmpty, ReasonInvalidUTF8, ReasonMalformedJSON,
	ReasonMalformedSenML, ReasonMalformedLine, ReasonWrongType, ReasonNonFinite,
	ReasonInvalidValue, ReasonMissingField, ReasonInvalidKey, ReasonTooManyFields,
	ReasonTooManyPoints, ReasonTimeOutOfRange, ReasonUnknownChannel, ReasonBadTopic,
	ReasonUnknownDevice, ReasonForeignDevice, ReasonStoreRejected, ReasonQuota, ReasonTooOldForAlerts,
	ReasonReservedMeasurement, ReasonTooManyTags, ReasonTagTooLong, ReasonTooManySeries,
	ReasonTooManyMeasurements, ReasonDeviceRetired, ReasonUnitChanged,
}

// Error is a refused payload: a Reason and a human-readable detail that
// tells the integrator what to change.
type Error struct {
	Reason Reason
	Detail string
}

func (e *Error) Error() string { return string(e.Reason) + ": " + e.Detail }

func errorf(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Errorf builds an *Error; ingest uses it for the refusals it decides itself
// (topic, registry).
func Errorf(r Reason, format string, args ...any) *Error { return errorf(r, format, args...) }
