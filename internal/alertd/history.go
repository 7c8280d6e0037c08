package alertd

import (
	"context"
	"fmt"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/store"
)

// writeHistory drains alerts.db's outbox into the store, oldest first,
// retrying while the store is down: history is written late, never lost.
func (s *Service) writeHistory(ctx context.Context) {
	delay := time.Second
	for {
		recs, err := s.db.pending(ctx, 1000)
		if err != nil && ctx.Err() == nil {
			s.log.Error("alerts: reading the history outbox", "err", err)
		}
		if len(recs) == 0 || err != nil {
			select {
			case <-ctx.Done():
				return
			case <-s.historyWake:
			case <-time.After(time.Minute):
			}
			continue
		}
		if s.history != nil {
			pts := make([]point.Point, 0, len(recs))
			for i := range recs {
				pts = append(pts, historyPoint(&recs[i]))
			}
			if err := s.history.Write(ctx, pts); err != nil {
				if ctx.Err() != nil {
					return
				}
				if !store.IsRejected(err) {
					s.m.historyErrors.Inc()
					s.log.Warn("alerts: writing history failed; retrying", "err", err, "records", len(recs), "retry_in", delay)
					select {
					case <-ctx.Done():
						return
					case <-time.After(delay):
					}
					delay = min(delay*2, 30*time.Second)
					continue
				}
				s.m.historyErrors.Inc()
				s.log.Error("alerts: the store refused history records; dropped from the outbox (they stay in the log)", "err", err, "first_seq", recs[0].Seq)
			}
		}
		delay = time.Second
		if err := s.db.done(ctx, recs[len(recs)-1].Seq); err != nil && ctx.Err() == nil {
			s.log.Error("alerts: history outbox", "err", err)
		}
	}
}

// historyPoint is a transition as the store keeps it (contract.History).
func historyPoint(r *record) point.Point {
	h := contract.History{At: r.At, Transition: r.Kind, Seq: r.Seq, By: r.By, Note: r.Note}
	if m := r.Maintenance; m != nil {
		h.Maintenance = &contract.MaintenanceHistory{Target: m.Target, Until: m.Until, Since: m.Since}
		return h.Point()
	}
	a := r.Alert
	ah := &contract.AlertHistory{ID: a.ID, Device: a.Device, District: a.District, Rule: a.Rule, RuleKind: string(a.RuleKind), Severity: string(a.Severity),
		State: string(a.State), MessageVI: a.Message["vi"], MessageEN: a.Message["en"], Parent: a.Parent,
		Count: a.Count, Flaps: a.Flaps, Suppressed: a.Suppressed}
	if a.Value != nil {
		ah.Value = fmt.Sprint(a.Value)
	}
	if d := a.Dispatch; d != nil {
		ah.Assignee = d.Assignee
		if last := len(d.Steps) - 1; r.Kind == string(alert.StepFixed) && last >= 0 {
			ah.Photo = d.Steps[last].Photo
		}
	}
	if r.Kind == string(alert.Acked) && a.Ack != nil {
		ah.AckVia = a.Ack.Via // acknowledged with the alert it was folded under
	}
	h.Alert = ah
	return h.Point()
}
