package alertd

import (
	"strings"

	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/contract"
)

// Command applies one command from contract.CommandsTopic and queues its result.
func (s *Service) Command(payload []byte) {
	c, err := contract.ParseCommand(payload)
	s.mu.Lock()
	owning := s.owning
	first := owning && s.firstTime(c.ID)
	s.mu.Unlock()
	if !owning || !first {
		if owning {
			s.log.Info("alerts: command already answered", "id", c.ID)
		}
		return
	}
	res := &contract.CommandResult{ID: c.ID, Op: c.Op}
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

func opLabel(op contract.Op) string {
	if op.Valid() {
		return string(op)
	}
	return "invalid"
}

func (s *Service) apply(c contract.Command) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var (
		trs []alert.Transition
		err error
	)
	switch c.Op {
	case contract.OpAck:
		trs, err = s.eng.Acknowledge(c.Alert, c.By, c.Note, now)
	case contract.OpResolve:
		trs, err = s.eng.Resolve(c.Alert, c.By, c.Note, now)
	case contract.OpMaintenanceStart:
		trs, err = s.eng.StartMaintenance(alert.Maintenance{Target: c.Target, Until: c.Until, By: c.By, Note: c.Note}, now)
	case contract.OpMaintenanceEnd:
		trs, err = s.eng.EndMaintenance(c.Target, c.By, now)
	case contract.OpAssign, contract.OpAccept, contract.OpEnRoute, contract.OpOnSite, contract.OpFixed:
		step, _ := alert.StepFor(c.Op)
		trs, err = s.eng.Dispatch(c.Alert, step, c.Assignee, c.By, c.Note, c.Photo, now)
	case contract.OpCommission:
		id := strings.TrimPrefix(c.Target, "device:")
		if err = s.eng.Commission(id, now); err == nil {
			s.tookLive(c.By, now)
		}
	}
	if err != nil {
		return err
	}
	s.queue(trs)
	return nil
}
