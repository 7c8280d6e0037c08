package ingestd

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/ioc-vn/ioc/internal/alertd"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/ingest"
	"github.com/ioc-vn/ioc/internal/lease"
	"github.com/ioc-vn/ioc/internal/mqttsub"
	"github.com/prometheus/client_golang/prometheus"
)

// alertOwner lets this ingest own alerting when it holds the lease
// (alerts.lease) and stand by otherwise. Standing by, it forwards what it
// stores to the owner, as an alerts.forward ingest does, and subscribes to
// neither commands nor observations. Taking over, it starts the alert
// service from the broker's retained state, evaluates again what it
// forwarded since the previous owner was last heard from (which that owner
// may not have lived to evaluate), and subscribes to the commands and the
// group's observations. Losing the lease (or the broker), it stops
// publishing at once: the alert service's publisher is gated on the lease.
type alertOwner struct {
	id     string
	log    *slog.Logger
	lease  *lease.Lease
	alerts *alertd.Service
	fwd    *alertd.Forwarder
	client *mqttsub.Client

	commands, handedOff, observations *mqttsub.Optional

	changes chan change // from the lease, applied by run
	sent    *sentLog

	mu       sync.Mutex
	handed   map[string]bool // command ids handed on lately
	order    []string
	servedBy lease.Record // the owner last heard serving
	servedAt time.Time    // when
}

type change struct {
	held  bool
	epoch uint64
}

var _ ingest.Observer = (*alertOwner)(nil)

// newAlertOwner builds the owner over the subscription's client; the alert
// service must be built standing by, publishing through gate.
func newAlertOwner(id string, o lease.Options, client *mqttsub.Client, log *slog.Logger, metrics prometheus.Registerer) *alertOwner {
	a := &alertOwner{id: id, log: log, client: client, changes: make(chan change, 16), handed: map[string]bool{}}
	a.sent = &sentLog{pub: client}
	a.fwd = alertd.NewForwarder(a.sent, id, log)
	a.lease = lease.New(o, lease.Deps{ID: id, Log: log,
		Publish: func(r lease.Record) error {
			b, _ := json.Marshal(r)
			return client.Publish(contract.AlertOwnerTopic, 0, true, b) // QoS 0: never queued, never late
		},
		Changed: func(held bool, epoch uint64) { a.changes <- change{held, epoch} },
	})
	metrics.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ioc_alert_lease_held", Help: "1 while this ingest holds the alert lease (owns alerting), 0 while it stands by."},
			func() float64 {
				if a.lease.Held() {
					return 1
				}
				return 0
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ioc_alert_lease_epoch", Help: "The alert lease epoch this ingest holds or last held (0: never)."},
			func() float64 { return float64(a.lease.Epoch()) }),
	)
	return a
}

// will is the lease's last will: the broker releases the lease when this
// ingest's connection ends without a DISCONNECT.
func will(id string) *mqttsub.Will {
	return &mqttsub.Will{Topic: contract.AlertOwnerTopic, Payload: lease.Tombstone(id), Retain: true}
}

// gate is the alert service's publisher: nothing goes out unless this
// process holds the lease.
func (a *alertOwner) gate() alertd.Publisher { return gatedPublisher{a} }

type gatedPublisher struct{ a *alertOwner }

var errNotOwner = errors.New("not the alert owner (another ingest holds the lease)")

func (g gatedPublisher) Publish(topic string, qos byte, retain bool, payload []byte) error {
	if !g.a.lease.Held() {
		return errNotOwner
	}
	return g.a.client.Publish(topic, qos, retain, payload)
}

// Stored implements ingest.Observer: evaluated here while owning,
// forwarded to the owner otherwise.
func (a *alertOwner) Stored(msgs []ingest.Stored) {
	if a.lease.Held() && a.alerts.Owning() {
		a.alerts.Stored(msgs)
		return
	}
	a.fwd.Stored(msgs)
}

// follow subscribes to the lease and sets up the subscriptions made only
// while owning. Call it before the client connects.
func (a *alertOwner) follow() {
	a.client.Subscribe(contract.AlertOwnerTopic, func(_ string, body []byte) {
		r, err := lease.Parse(body)
		if err != nil {
			a.log.Warn("alert lease: undecodable record ignored", "err", err)
			return
		}
		a.lease.Observe(r)
		a.noticeServing(r)
	})
	a.client.OnConnect(func() { a.lease.Connected(true) })
	a.client.OnConnectionLost(func() { a.lease.Connected(false) })
	a.commands = a.client.Optional(contract.CommandsTopic, func(_ string, b []byte) { a.alerts.Command(b) }, a.handOff)
	a.handedOff = a.client.Optional(contract.HandOffTopic, func(_ string, b []byte) { a.alerts.Command(b) }, a.handOff)
	// Observations a standby's session still delivers are dropped: each
	// standby sends its own again to the next owner (noticeServing).
	a.observations = a.client.Optional(contract.ObservationsFilter, func(_ string, b []byte) { a.alerts.Observed(b) }, func(string, []byte) {})
}

// handOff passes on a command this standby's session still delivered (it
// was sent while this process owned alerting, or before the broker knew it
// had stopped) to the owner, once.
func (a *alertOwner) handOff(_ string, body []byte) {
	var c struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(body, &c) != nil || c.ID == "" || len(body) > contract.MaxCommandBytes {
		return
	}
	a.mu.Lock()
	seen := a.handed[c.ID]
	if !seen {
		if len(a.order) >= 1024 {
			delete(a.handed, a.order[0])
			a.order = a.order[1:]
		}
		a.handed[c.ID] = true
		a.order = append(a.order, c.ID)
	}
	a.mu.Unlock()
	if seen {
		return
	}
	if err := a.client.Publish(contract.HandOffTopic, 1, false, body); err != nil {
		a.log.Warn("alerts: could not hand a command on to the alert owner", "id", c.ID, "err", err)
		return
	}
	a.log.Info("alerts: handed a command on to the alert owner", "id", c.ID)
}

// noticeServing sends again, when another ingest starts serving as the
// owner, what this standby forwarded since the previous owner was last
// heard serving: forwarded while no one was subscribed, or to an owner that
// may have died before evaluating it.
func (a *alertOwner) noticeServing(r lease.Record) {
	if r.Released || !r.Serving || r.Owner == a.id {
		return
	}
	a.mu.Lock()
	fresh := r.Owner != a.servedBy.Owner || r.Epoch != a.servedBy.Epoch
	from := a.servedAt
	a.servedBy, a.servedAt = r, time.Now()
	a.mu.Unlock()
	if !fresh {
		return
	}
	bodies := a.sent.since(from.Add(-time.Second))
	go func() {
		for _, b := range bodies {
			if err := a.client.Publish(contract.ObservationsPrefix+a.id, 1, false, b); err != nil {
				a.log.Warn("alerts: could not send stored data again to the new alert owner", "err", err)
				return
			}
		}
		if len(bodies) > 0 {
			a.log.Info("alerts: sent what was forwarded while the alert owner changed again to the new owner", "owner", r.Owner, "batches", len(bodies))
		}
	}()
}

// run drives the lease and applies what it decides, until ctx ends; then
// the lease is released (a standby takes over at once).
func (a *alertOwner) run(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.lease.Run(ctx)
	}()
	for {
		select {
		case c := <-a.changes:
			a.apply(ctx, c)
		case <-done:
			for {
				select {
				case c := <-a.changes:
					stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
					a.apply(stopCtx, c)
					cancel()
				default:
					return nil
				}
			}
		}
	}
}

func (a *alertOwner) apply(ctx context.Context, c change) {
	if !c.held {
		a.alerts.StandBy()
		for _, o := range []*mqttsub.Optional{a.commands, a.handedOff, a.observations} {
			if err := o.Disable(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("alerts: unsubscribing while standing by", "err", err)
			}
		}
		return
	}
	start := time.Now()
	var msgs map[string][]byte
	for {
		listCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var err error
		msgs, err = a.client.RetainedMessages(listCtx, append(contract.RetainedFilters(), contract.DevicesPrefix+"#"), contract.IngestSyncPrefix+a.id)
		cancel()
		if err == nil {
			break
		}
		if !a.lease.Held() || ctx.Err() != nil {
			return // lost it meanwhile: a change to apply follows
		}
		a.log.Warn("alerts: could not read the broker's retained alert state to take over; trying again", "err", err)
	}
	if !a.lease.Held() {
		return
	}
	r, bad := alertd.ParseRetained(msgs)
	if len(bad) > 0 {
		a.log.Warn("alerts: retained messages that are not alert state were left out of the takeover", "count", len(bad), "first", bad[0])
	}
	a.alerts.TakeOver(r)
	prev, heard := a.lease.Other()
	replayed := 0
	for _, b := range a.sent.since(heard.Add(-time.Second)) {
		a.alerts.Observed(b)
		replayed++
	}
	for _, o := range []*mqttsub.Optional{a.commands, a.handedOff, a.observations} {
		if err := o.Enable(ctx); err != nil {
			a.log.Warn("alerts: subscribing as the alert owner", "err", err)
		}
	}
	a.lease.Serve(c.epoch)
	a.log.Info("alerts: this ingest owns alerting", "epoch", c.epoch, "previous", prev.Owner,
		"active", len(r.Alerts), "reevaluated_batches", replayed, "took", time.Since(start).Round(time.Millisecond))
}

// sentLog publishes observations for the owner and keeps them for a while:
// a standby that takes over evaluates again what it forwarded since the
// previous owner was last heard from.
type sentLog struct {
	pub alertd.Publisher

	mu    sync.Mutex
	sent  []sentBody
	bytes int
}

type sentBody struct {
	at   time.Time
	body []byte
}

// sentKeep and sentMaxBytes bound what is kept: longer than any lease TTL
// plus settling, and at most this many bytes (the oldest go first).
const (
	sentKeep     = 2 * time.Minute
	sentMaxBytes = 32 << 20
)

func (s *sentLog) Publish(topic string, qos byte, retain bool, body []byte) error {
	now := time.Now()
	s.mu.Lock()
	s.sent = append(s.sent, sentBody{now, body})
	s.bytes += len(body)
	drop := 0
	for drop < len(s.sent) && (s.bytes > sentMaxBytes || now.Sub(s.sent[drop].at) > sentKeep) {
		s.bytes -= len(s.sent[drop].body)
		drop++
	}
	if drop > 0 {
		s.sent = append(s.sent[:0:0], s.sent[drop:]...)
	}
	s.mu.Unlock()
	return s.pub.Publish(topic, qos, retain, body)
}

// since returns the bodies published at or after t, and forgets them all.
func (s *sentLog) since(t time.Time) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]byte
	for _, b := range s.sent {
		if !b.at.Before(t) {
			out = append(out, b.body)
		}
	}
	s.sent, s.bytes = nil, 0
	return out
}
