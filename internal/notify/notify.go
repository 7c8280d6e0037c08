// Package notify tells people outside the operations room about alerts:
// escalation policies per severity and district decide who is told at
// once, who after N minutes unacknowledged and who after M minutes
// unresolved; each message goes through a Channel (signed webhook, e-mail,
// Telegram, Zalo OA, or a province's own, such as an SMS gateway).
//
// One incident is one alert that is not folded under another: a recorder
// or a district going dark is one message, not one per camera. Updates
// (acknowledged, resolved) go to everyone told, threaded under the first
// message where the channel allows.
//
// Delivery is durable. Alert transitions are planned into an outbox in
// SQLite (notify.db in the data directory) in the same transaction that
// records the incident's progress, each message under an idempotency key
// (incident, step, recipient) that a second plan cannot insert again; a
// sender per channel drains the outbox in order, retrying with backoff and
// the provider's own rate-limit answers, and records each message as sent
// before it takes the next. A message whose send was cut by a crash is
// sent again, with the same key (the webhook's X-IOC-Delivery header) so
// a receiver can drop the copy; a normal stop finishes the send in flight.
//
//	alertd (saved transitions) ──Notify──▶ queue ──▶ plan (policies, clock)
//	  ──▶ notify.db: incidents + outbox (one transaction)
//	  ──▶ one sender per channel ──▶ Channel.Send ──▶ sent / retry / failed
package notify

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Channel delivers one message to one recipient. A province adds its own
// (an SMS gateway) by implementing it and registering a Factory.
type Channel interface {
	// Send delivers m to the recipient to (a chat id, an address, a user
	// id; empty for a webhook). It returns the provider's reference of the
	// message (a Telegram message_id, a Zalo message_id, an e-mail
	// Message-ID) that later messages of the same incident to the same
	// recipient reply to (m.ReplyTo). An error is retried unless it is
	// Permanent; a RateLimited error says when to try again.
	Send(ctx context.Context, to string, m *Message) (ref string, err error)
}

// Kind is what a message says.
type Kind string

const (
	KindRaised         Kind = "raised"         // told at once
	KindUnacknowledged Kind = "unacknowledged" // escalation: no one acknowledged it in time
	KindUnresolved     Kind = "unresolved"     // escalation: still not resolved
	KindAcknowledged   Kind = "acknowledged"   // update to those told
	KindResolved       Kind = "resolved"       // the last message of an incident
	// The alert was assigned to a team or technician: told to the
	// recipients the configuration names for that assignee.
	KindAssigned Kind = "assigned"
	// A response target (alerts.targets) missed: once per target.
	KindAckOverdue     Kind = "ack_overdue"
	KindRestoreOverdue Kind = "restore_overdue"
)

// Message is one notification, as the webhook posts it (JSON) and as the
// other channels render it (Subject, Text, Link).
type Message struct {
	// Key is the message's idempotency key: the same on every attempt and
	// after a restart (X-IOC-Delivery on webhooks).
	Key string `json:"key"`
	// Incident is "<alert id>@<raised, unix seconds>".
	Incident string    `json:"incident"`
	Kind     Kind      `json:"kind"`
	Alert    string    `json:"alert"`
	Severity string    `json:"severity"`
	Device   string    `json:"device"`
	Name     string    `json:"device_name"`
	District string    `json:"district"`
	Place    string    `json:"place"`
	Raised   time.Time `json:"raised_at"`
	At       time.Time `json:"at"` // when what the message says happened
	By       string    `json:"by,omitempty"`
	Lang     string    `json:"lang"`
	Subject  string    `json:"subject"`
	Text     string    `json:"text"`
	Link     string    `json:"link,omitempty"`
	// ReplyTo is the channel's reference of this incident's first message
	// to the same recipient; empty for the first.
	ReplyTo string `json:"reply_to,omitempty"`
}

// permanent marks an error no retry can fix (a refused address, an
// unknown chat, a bad token).
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent wraps err so that the message is not retried.
func Permanent(err error) error { return permanent{err} }

// IsPermanent reports whether err was wrapped by Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// RateLimited is a provider's "too many requests": try again After.
type RateLimited struct {
	After time.Duration
	Err   error
}

func (r *RateLimited) Error() string {
	return fmt.Sprintf("rate limited, retry after %s: %v", r.After, r.Err)
}
func (r *RateLimited) Unwrap() error { return r.Err }
