package alertd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
)

// Command is a message on CommandsTopic. Only server accounts may publish
// there (the broker's ACL); By is the operator the IOC server
// authenticated.
type Command struct {
	// ID is the sender's, echoed in the result.
	ID string `json:"id"`
	// Op: ack, resolve, maintenance_start, maintenance_end.
	Op string `json:"op"`
	// Alert is the alert id, for ack and resolve.
	Alert string `json:"alert,omitempty"`
	// Target is device:<id> or district:<id>, for maintenance.
	Target string    `json:"target,omitempty"`
	Until  time.Time `json:"until,omitzero"`
	By     string    `json:"by"`
	Note   string    `json:"note,omitempty"`
}

// commandResult is published on ResultsTopic for every command.
type commandResult struct {
	ID    string `json:"id"`
	Op    string `json:"op"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Bounds on a command.
const (
	maxCommandBytes = 8 << 10
	maxByBytes      = 128
	maxNoteBytes    = 2048
)

// Command applies one command from CommandsTopic and queues its result.
func (s *Service) Command(payload []byte) {
	c, err := parseCommand(payload)
	res := &commandResult{ID: c.ID, Op: c.Op}
	if err == nil {
		err = s.apply(c)
	}
	if err != nil {
		res.Error = err.Error()
		s.log.Warn("alerts: command refused", "id", c.ID, "op", c.Op, "by", c.By, "err", err)
	} else {
		res.OK = true
		s.log.Info("alerts: command applied", "id", c.ID, "op", c.Op, "alert", c.Alert, "target", c.Target, "by", c.By)
	}
	s.m.commands.WithLabelValues(opLabel(c.Op), map[bool]string{true: "ok", false: "refused"}[res.OK]).Inc()
	s.mu.Lock()
	s.pending = append(s.pending, item{result: res})
	s.mu.Unlock()
	s.poke()
}

func opLabel(op string) string {
	switch op {
	case "ack", "resolve", "maintenance_start", "maintenance_end":
		return op
	}
	return "invalid"
}

func parseCommand(b []byte) (Command, error) {
	var c Command
	if len(b) > maxCommandBytes {
		return c, fmt.Errorf("command of %d bytes: at most %d", len(b), maxCommandBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Command{}, fmt.Errorf("command is not valid JSON of the documented shape: %w", err)
	}
	switch {
	case c.By == "" || len(c.By) > maxByBytes:
		return c, fmt.Errorf("command needs by (who), at most %d bytes", maxByBytes)
	case len(c.Note) > maxNoteBytes:
		return c, fmt.Errorf("note of %d bytes: at most %d", len(c.Note), maxNoteBytes)
	}
	switch c.Op {
	case "ack", "resolve":
		if c.Alert == "" {
			return c, fmt.Errorf("%s needs alert", c.Op)
		}
	case "maintenance_start", "maintenance_end":
		if c.Target == "" {
			return c, fmt.Errorf("%s needs target (device:<id> or district:<id>)", c.Op)
		}
	default:
		return c, fmt.Errorf("op %q: use ack, resolve, maintenance_start or maintenance_end", c.Op)
	}
	return c, nil
}

func (s *Service) apply(c Command) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var (
		trs []alert.Transition
		err error
	)
	switch c.Op {
	case "ack":
		trs, err = s.eng.Acknowledge(c.Alert, c.By, c.Note, now)
	case "resolve":
		trs, err = s.eng.Resolve(c.Alert, c.By, c.Note, now)
	case "maintenance_start":
		trs, err = s.eng.StartMaintenance(alert.Maintenance{Target: c.Target, Until: c.Until, By: c.By, Note: c.Note}, now)
	case "maintenance_end":
		trs, err = s.eng.EndMaintenance(c.Target, c.By, now)
	}
	if err != nil {
		return err
	}
	s.queue(trs)
	return nil
}
