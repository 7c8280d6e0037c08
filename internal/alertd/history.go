package alertd

import (
	"context"
	"fmt"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
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

// historyPoint is a transition as a point: measurement alert (tags device,
// district, rule, severity, transition; field event_seq is the sequence
// number on EventsTopic) or maintenance (tags target,
// transition), at the transition's time.
func historyPoint(r *record) point.Point {
	p := point.Point{Time: r.At}
	p.SetTag("transition", r.Kind)
	add := func(k, v string) {
		if v != "" {
			p.Fields = append(p.Fields, point.StringField(k, v))
		}
	}
	p.Fields = append(p.Fields, point.IntField("event_seq", int64(r.Seq)))
	add("by", r.By)
	add("note", r.Note)
	if m := r.Maintenance; m != nil {
		p.Measurement = "maintenance"
		p.SetTag("target", m.Target)
		if !m.Until.IsZero() {
			add("until", m.Until.UTC().Format(time.RFC3339))
		}
		add("since", m.Since.UTC().Format(time.RFC3339))
		return p
	}
	a := r.Alert
	p.Measurement = "alert"
	p.SetTag("device", a.Device)
	p.SetTag("district", a.District)
	p.SetTag("rule", a.Rule)
	p.SetTag("severity", string(a.Severity))
	add("id", a.ID)
	add("state", string(a.State))
	if a.Value != nil {
		add("value", fmt.Sprint(a.Value))
	}
	add("message_vi", a.Message["vi"])
	add("message_en", a.Message["en"])
	add("parent", a.Parent)
	if r.Kind == string(alert.Acked) && a.Ack != nil {
		add("ack_via", a.Ack.Via) // acknowledged with the alert it was folded under
	}
	p.Fields = append(p.Fields, point.IntField("count", int64(a.Count)), point.IntField("flaps", int64(a.Flaps)),
		point.BoolField("suppressed", a.Suppressed))
	return p
}
