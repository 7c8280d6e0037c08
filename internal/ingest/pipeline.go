// Package ingest turns MQTT messages into stored points: it checks each
// message's topic against the device registry, parses its payload, batches
// points by size or deadline, writes batches to the store with retries, and
// acknowledges messages in arrival order only once their points are stored
// (or their rejection is recorded). Nothing acknowledged is lost; nothing
// unacknowledged is kept: the broker redelivers it.
//
//	paho handler ──Handle──▶ in (bounded window) ──batcher──▶ writeQ ──writers──▶ store
//	                                                  └────────▶ ackQ ──acker (in order)──▶ PUBACK
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/stamp"
	"github.com/ioc-vn/ioc/internal/store"
	"github.com/ioc-vn/ioc/internal/validate"
	"github.com/prometheus/client_golang/prometheus"
)

// Options tune the pipeline. Zero values take the defaults below.
type Options struct {
	// MaxInFlight bounds messages received but not yet acknowledged. At
	// 36,000 msgs/s and a 100 ms write, 3,600 are in flight in steady state;
	// 20,000 leaves room for a slow write without stopping the broker.
	MaxInFlight int `yaml:"max_in_flight"`
	// BatchPoints flushes a batch at this many points (InfluxDB's own
	// guidance is 5,000 lines per write).
	BatchPoints int `yaml:"batch_points"`
	// FlushInterval, when positive, holds a batch up to this long after
	// its first message even when a writer is idle, for a database that
	// would rather take fewer, bigger writes. Zero (the default): group
	// commit, a batch is written as soon as a writer is idle, and batches
	// grow only while every writer is busy, so a lone message is stored
	// in one write's time and a flood still makes big batches.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// WriteWorkers is the number of concurrent batch writes.
	WriteWorkers int `yaml:"write_workers"`
	// RetryMin and RetryMax bound the jittered exponential backoff between
	// attempts to write a batch the store refused for a transient reason.
	RetryMin time.Duration `yaml:"retry_min"`
	RetryMax time.Duration `yaml:"retry_max"`
	// DrainTimeout is how long shutdown waits for batches being written.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// AcceptUnknown stores messages from devices not in the registry, tagged
	// kind=unregistered, instead of rejecting them (discovery mode).
	AcceptUnknown bool `yaml:"accept_unknown"`
	// MaxSeriesPerDeviceHour bounds the distinct series (measurement and
	// tag set) one device may write in a clock hour. Every series stays in
	// the database's index for the retention period; a camera or sensor
	// has a handful, a gateway flushing line protocol tens. 1,000 stops a
	// tag that changes with every reading long before the index suffers.
	MaxSeriesPerDeviceHour int `yaml:"max_series_per_device_hour"`
	// MaxMeasurementsPerIntegrator bounds the distinct measurement names
	// one integrator may use (counted since ingest started): each is a
	// table of its own in the database's schema. 64 leaves room for every
	// kind of line-protocol source an integrator runs.
	MaxMeasurementsPerIntegrator int `yaml:"max_measurements_per_integrator"`
	// Limits bound a single message.
	Limits payload.Limits `yaml:"-"`
	// AlertMaxAge, when alerting is on, is the alert engine's
	// alert.Options.MaxAge: a stored message of a registered device with
	// a point stamped longer ago is reported to its integrator
	// (too_old_for_alerts), since it will raise nothing. Zero: no report.
	AlertMaxAge time.Duration `yaml:"-"`
}

// DefaultOptions are the settings used for zero fields.
var DefaultOptions = Options{
	MaxInFlight:  20000,
	BatchPoints:  5000,
	WriteWorkers: 2,
	RetryMin:     100 * time.Millisecond,
	RetryMax:     10 * time.Second,
	DrainTimeout: 10 * time.Second,
	Limits:       payload.DefaultLimits,

	MaxSeriesPerDeviceHour:       1000,
	MaxMeasurementsPerIntegrator: 64,
}

func (o *Options) fill() {
	d := DefaultOptions
	orDefault(&o.MaxInFlight, d.MaxInFlight)
	orDefault(&o.BatchPoints, d.BatchPoints)
	o.FlushInterval = max(o.FlushInterval, 0)
	orDefault(&o.WriteWorkers, d.WriteWorkers)
	orDefault(&o.RetryMin, d.RetryMin)
	orDefault(&o.RetryMax, d.RetryMax)
	orDefault(&o.DrainTimeout, d.DrainTimeout)
	orDefault(&o.MaxSeriesPerDeviceHour, d.MaxSeriesPerDeviceHour)
	orDefault(&o.MaxMeasurementsPerIntegrator, d.MaxMeasurementsPerIntegrator)
	if o.Limits == (payload.Limits{}) {
		o.Limits = d.Limits
	}
}

func orDefault[T int | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// Message is one received message: from ingest's MQTT client
// (Message), the embedded broker (*broker.Message) or HTTP ingest.
// Ack sends its acknowledgement; the pipeline calls it once the message's
// data is safe, in arrival order.
type Message interface {
	Topic() string
	Payload() []byte
	MessageID() uint16
	Duplicate() bool
	Ack()
}

// Replay is implemented by a message the broker sent from its store of
// retained messages because ingest (re)subscribed, not because a device
// just published it (MQTT-3.3.1-8: only such deliveries carry RETAIN). The
// same retained message comes again on every reconnect, so it is not news.
type Replay interface {
	RetainedReplay() bool
}

// Publisher sends rejection reports to integrators; mqttsub.Client is one.
type Publisher interface {
	Publish(topic string, qos byte, retain bool, payload []byte) error
}

// Stored is one acknowledged message's device and points, as an Observer
// sees them. Both are valid only during the Observer's call.
type Stored struct {
	Device *registry.Device
	Points []point.Point
}

// Observer sees every stored message of a registered device, in arrival
// order, right after it is acknowledged: the alert engine's input. It runs
// on the pipeline's acknowledging goroutine, so it must be quick and must
// not keep the slices.
type Observer interface {
	Stored(msgs []Stored)
}

// Deps are the pipeline's collaborators.
type Deps struct {
	Store    store.Writer
	Registry *registry.Registry
	Journal  *stamp.Journal // nil: no redelivery-stable stamps (tests of other parts)
	// Reports records and publishes refusals; nil: the pipeline makes
	// one that nobody runs, so they are logged and counted only.
	Reports *Reporter
	// Window is where the source hands messages over; nil: the
	// pipeline makes one of Options.MaxInFlight.
	Window   *Window
	Log      *slog.Logger
	Metrics  prometheus.Registerer
	Now      func() time.Time
	Observer Observer // nil: nobody watches
}

// Pipeline is the ingest pipeline. Create it with New, start Run, and feed
// it with Handle.
type Pipeline struct {
	o        Options
	store    store.Writer
	registry atomic.Pointer[registry.Registry]
	journal  *stamp.Journal
	log      *slog.Logger
	now      func() time.Time
	m        *metrics
	reports  *Reporter
	observer Observer
	observed []Stored // acker goroutine only
	check    validate.Checker

	win      *Window
	parser   *payload.Parser // batcher goroutine only
	card     *cardinality    // batcher goroutine only
	unitBook *unitBook       // batcher goroutine only
	pool     sync.Pool       // *batch

	lastStored atomic.Int64 // unix ns of the last successful write
	writeErr   atomic.Bool  // the last write attempt failed
}

// batch is a run of consecutive messages and the points they carry.
type batch struct {
	msgs   []Message
	msgAt  []int // msgAt[i]: index of the first point of msgs[i]
	meta   []msgMeta
	points []point.Point
	keys   []stamp.Key
	done   chan struct{}
	ok     bool // every point stored or individually rejected
}

type msgMeta struct {
	topic                       string
	integrator, device, channel string
	dev                         *registry.Device // registered and accepted; nil otherwise
	parts                       []part           // a gateway's message: its devices' runs of points
	unitsAt                     int              // >0: index of the message's unit points (units.go), after its data
}

// New builds a pipeline.
func New(o Options, d Deps) (*Pipeline, error) {
	if d.Store == nil || d.Registry == nil {
		return nil, errors.New("ingest: Store and Registry are required")
	}
	o.fill()
	if d.Window == nil {
		d.Window = NewWindow(o.MaxInFlight)
	}
	o.MaxInFlight = cap(d.Window.slots)
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	p := &Pipeline{
		o:        o,
		store:    d.Store,
		journal:  d.Journal,
		log:      d.Log,
		now:      d.Now,
		win:      d.Window,
		reports:  d.Reports,
		parser:   payload.NewParser(o.Limits),
		card:     newCardinality(o.MaxSeriesPerDeviceHour, o.MaxMeasurementsPerIntegrator),
		unitBook: newUnitBook(),
		observer: d.Observer,
		check:    validate.Checker{Limits: o.Limits, AcceptUnknown: o.AcceptUnknown},
	}
	p.registry.Store(d.Registry)
	p.m = newMetrics(d.Metrics, p)
	if p.reports == nil {
		p.reports = NewReporter(d.Log, d.Metrics, d.Now)
	}
	return p, nil
}

// SetRegistry swaps in a reloaded registry; messages after the swap use it.
func (p *Pipeline) SetRegistry(r *registry.Registry) { p.registry.Store(r) }

// Handle takes one message from its source (Window.Handle).
func (p *Pipeline) Handle(m Message) { p.win.Handle(m) }

// Run processes messages until ctx ends, then writes and acknowledges what
// it already holds (for at most DrainTimeout) and returns.
func (p *Pipeline) Run(ctx context.Context) error {
	drainCtx, cancelDrain := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelDrain()
	go func() {
		<-ctx.Done()
		p.win.stop()
		t := time.NewTimer(p.o.DrainTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			p.log.Warn("ingest: drain timeout; unwritten messages stay unacknowledged for redelivery", "timeout", p.o.DrainTimeout)
			cancelDrain()
		case <-drainCtx.Done():
		}
	}()

	// The batcher hands a writer at most WriteWorkers batches at a time and
	// counts them back on written, so neither channel ever blocks a sender.
	writeQ := make(chan *batch, p.o.WriteWorkers)
	written := make(chan struct{}, p.o.WriteWorkers)
	ackQ := make(chan *batch, p.o.MaxInFlight)
	var workers sync.WaitGroup
	for range p.o.WriteWorkers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for b := range writeQ {
				b.ok = p.write(drainCtx, b)
				close(b.done)
				written <- struct{}{}
			}
		}()
	}
	ackerDone := make(chan struct{})
	go func() {
		defer close(ackerDone)
		p.acker(ackQ)
	}()

	p.batcher(ctx, writeQ, ackQ, written)
	close(writeQ)
	close(ackQ)
	workers.Wait()
	<-ackerDone
	cancelDrain()
	return nil
}

func (p *Pipeline) newBatch() *batch {
	b, _ := p.pool.Get().(*batch)
	if b == nil {
		b = &batch{}
	}
	b.done = make(chan struct{})
	b.ok = false
	return b
}

func (p *Pipeline) recycle(b *batch) {
	clear(b.msgs) // drop references to payloads
	b.msgs, b.msgAt, b.meta, b.keys = b.msgs[:0], b.msgAt[:0], b.meta[:0], b.keys[:0]
	b.points = b.points[:0]
	p.pool.Put(b)
}

// batcher is the single goroutine that parses and batches, in arrival order.
//
// It group-commits: when a writer is idle, whatever has arrived is written
// at once (a lone message waits for no timer, only for its own write); while
// every writer is busy, what arrives meanwhile gathers into the next batch,
// handed over the moment a writer frees, so a flood still makes big batches.
// A batch that reaches BatchPoints stops the batcher taking more until a
// writer frees: backpressure.
func (p *Pipeline) batcher(ctx context.Context, writeQ, ackQ chan<- *batch, written <-chan struct{}) {
	var b *batch
	busy := 0        // batches handed to writers and not yet written
	expired := false // b has lingered FlushInterval
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	due := func() bool { return b != nil && (p.o.FlushInterval == 0 || expired || p.full(b)) }
	flush := func() {
		if b == nil {
			return
		}
		timer.Stop()
		for busy >= p.o.WriteWorkers {
			<-written
			busy--
		}
		if p.journal != nil && len(b.keys) > 0 {
			if err := p.journal.Sync(); err != nil {
				// Without the stamps a redelivery could double-count;
				// storing is still better than stalling. Say so loudly.
				p.log.Error("ingest: stamp journal sync failed; redeliveries of this batch may be stored twice", "err", err)
			}
		}
		p.m.batchPoints.Observe(float64(len(b.points)))
		ackQ <- b
		writeQ <- b
		busy++
		b = nil
	}
	// take adds m and everything already waiting behind it, up to a full batch.
	take := func(m Message) {
		if b == nil {
			b = p.newBatch()
			if p.o.FlushInterval > 0 {
				expired = false
				timer.Reset(p.o.FlushInterval)
			}
		}
		p.add(b, m)
		for !p.full(b) {
			select {
			case m := <-p.win.in:
				p.add(b, m)
			default:
				return
			}
		}
	}
	for {
		in := p.win.in
		if b != nil && p.full(b) {
			in = nil // wait for a writer
		}
		select {
		case m := <-in:
			take(m)
			if busy < p.o.WriteWorkers && due() {
				flush()
			}
		case <-timer.C:
			expired = true
			if busy < p.o.WriteWorkers {
				flush()
			}
		case <-written:
			busy--
			if due() {
				flush()
			}
		case <-ctx.Done():
			// Take what Handle already queued so it is written and acknowledged.
			for {
				select {
				case m := <-p.win.in:
					take(m)
					if p.full(b) {
						flush()
					}
					continue
				default:
				}
				break
			}
			flush()
			return
		}
	}
}

// full reports whether b is as big as a batch may be.
func (p *Pipeline) full(b *batch) bool {
	return len(b.points) >= p.o.BatchPoints || len(b.msgs) >= p.o.MaxInFlight/2
}

// add parses m into b. A rejected message joins the batch with no points,
// so that it is acknowledged in order once its rejection is recorded.
func (p *Pipeline) add(b *batch, m Message) {
	recv := p.now()
	topic := m.Topic()
	body := m.Payload()
	b.msgs = append(b.msgs, m)
	b.msgAt = append(b.msgAt, len(b.points))
	meta := msgMeta{topic: topic}
	defer func() { b.meta = append(b.meta, meta) }()
	if contract.IsErrorsTopic(topic) {
		return // our own rejection reports: acknowledged, not stored
	}
	if r, ok := m.(Replay); ok && r.RetainedReplay() {
		// A device's retained message, sent again by an external broker
		// because ingest (re)subscribed: it was stored when it was
		// published; storing it again would add a reading, stamped now,
		// on every reconnect. Acknowledged in order, not stored.
		p.m.retainedSkipped.Inc()
		p.log.Debug("ingest: retained message replayed by the broker; not stored again", "topic", topic)
		return
	}

	t, perr := contract.ParseTopic(topic)
	meta.integrator, meta.device, meta.channel = t.Integrator, t.Device, string(t.Channel)
	if perr != nil {
		p.m.received.WithLabelValues("invalid").Inc()
		p.reject(m, meta, body, perr)
		return
	}
	p.m.received.WithLabelValues(string(t.Channel)).Inc()
	reg := p.registry.Load()
	dev, pe := p.check.Device(reg, t.Integrator, t.Device)
	if pe != nil {
		p.reject(m, meta, body, pe)
		return
	}

	now := recv
	var key stamp.Key
	if p.journal != nil {
		key = stamp.MakeKey(topic, m.MessageID(), body)
		now = p.journal.Stamp(key, m.Duplicate(), recv)
	}
	start := len(b.points)
	pts, err := p.parser.Parse(b.points, t.Channel, t.Device, body, now)
	if err != nil {
		p.reject(m, meta, body, validate.AsPayloadError(err))
		return
	}
	if p.parser.Devices != nil {
		p.addGateway(b, m, &meta, body, reg, dev, pts, start, recv)
		if len(b.points) > start {
			p.units(b, &meta, func(id string) *registry.Device {
				if id == "" {
					id = dev.ID
				}
				for _, pt := range meta.parts {
					if pt.dev != nil && pt.dev.ID == id {
						return pt.dev
					}
				}
				return nil
			}, now, recv)
		}
	} else {
		if pe := validate.Fields(reg, dev.Kind, pts[start:]); pe != nil {
			b.points = pts[:start]
			p.reject(m, meta, body, pe)
			return
		}
		if pe := p.card.admit(t.Integrator, t.Device, pts[start:], recv); pe != nil {
			b.points = pts[:start]
			p.reject(m, meta, body, pe)
			return
		}
		b.points = pts
		if dev.Kind != registry.Unregistered {
			meta.dev = dev
		}
		validate.Tag(b.points[start:], dev)
		p.units(b, &meta, func(id string) *registry.Device {
			if id == "" && meta.dev != nil {
				return meta.dev
			}
			return nil
		}, now, recv)
	}
	if p.journal != nil && p.parser.UsedNow && len(b.points) > start {
		p.journal.Record(key, now)
		b.keys = append(b.keys, key)
	}
}

// part is the run of a gateway message's points that belong to one
// device, up to end (an index into the batch's points).
type part struct {
	dev *registry.Device // nil: not registered (stored in discovery mode), not observed
	end int
}

// addGateway files the points pts[start:] of a gateway's message (a
// SenML pack or JSON batch naming other devices than the topic's) under
// their devices: each device is checked against the registry and the
// sender's ownership, and its records are refused (and reported, with
// the device) or stored on their own; the rest of the message stands. The
// message is refused whole only when none of its records is.
func (p *Pipeline) addGateway(b *batch, m Message, meta *msgMeta, body []byte, reg *registry.Registry, topicDev *registry.Device, pts []point.Point, start int, recv time.Time) {
	groups := validate.GroupByDevice(pts[start:], p.parser.Devices, topicDev.ID)
	var first *payload.Error
	out, at := start, start
	for _, g := range groups {
		group := pts[at : at+g.N]
		at += g.N
		dev, pe := p.check.Group(reg, meta.integrator, topicDev, g.ID, group)
		if pe == nil {
			pe = p.card.admit(meta.integrator, dev.ID, group, recv)
		}
		if pe != nil {
			if first == nil {
				first = pe
			}
			p.refuseRecords(m, *meta, g.ID, g.N, len(p.parser.Devices), body, pe)
			continue
		}
		validate.Tag(group, dev)
		if out != at-g.N { // close the gap left by a refused device
			for j := range group {
				pts[out+j], pts[at-g.N+j] = pts[at-g.N+j], pts[out+j]
			}
		}
		out += g.N
		var d *registry.Device
		if dev.Kind != registry.Unregistered {
			d = dev
		}
		meta.parts = append(meta.parts, part{dev: d, end: out})
	}
	b.points = pts[:out]
	if out == start {
		meta.parts = nil
		p.reject(m, *meta, body, first)
	}
}

// write stores b's points, retrying transient failures until it succeeds or
// ctx ends. It reports whether b may be acknowledged.
func (p *Pipeline) write(ctx context.Context, b *batch) bool {
	if len(b.points) == 0 {
		return true
	}
	return p.writeRange(ctx, b, 0, len(b.points))
}

func (p *Pipeline) writeRange(ctx context.Context, b *batch, lo, hi int) bool {
	for attempt := 0; ; attempt++ {
		start := time.Now()
		err := p.store.Write(ctx, b.points[lo:hi])
		p.m.writeSeconds.Observe(time.Since(start).Seconds())
		if err == nil {
			p.writeErr.Store(false)
			p.lastStored.Store(time.Now().UnixNano())
			p.m.pointsStored.Add(float64(hi - lo))
			if attempt > 0 {
				p.log.Info("ingest: store write succeeded after retries", "attempts", attempt+1, "points", hi-lo)
			}
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if store.IsRejected(err) || errors.Is(err, store.ErrTooLarge) {
			class := "rejected"
			if errors.Is(err, store.ErrTooLarge) {
				class = "too_large"
			}
			p.m.writeErrors.WithLabelValues(class).Inc()
			if hi-lo == 1 {
				p.rejectStored(b, lo, err)
				return true
			}
			// Split to find the offending points; rewriting the good ones
			// is harmless because writes are idempotent.
			mid := lo + (hi-lo)/2
			return p.writeRange(ctx, b, lo, mid) && p.writeRange(ctx, b, mid, hi)
		}
		p.writeErr.Store(true)
		p.m.writeErrors.WithLabelValues("transient").Inc()
		delay := store.RetryDelay(err, attempt, p.o.RetryMin, p.o.RetryMax)
		if attempt == 0 || attempt%10 == 9 {
			p.log.Warn("ingest: store write failed; retrying, messages stay unacknowledged", "err", err, "attempt", attempt+1, "points", hi-lo, "retry_in", delay)
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return false
		}
	}
}

// rejectStored reports the message owning point i, which the store refused.
func (p *Pipeline) rejectStored(b *batch, i int, err error) {
	mi := 0
	for j := range b.msgAt {
		if b.msgAt[j] <= i {
			mi = j
		}
	}
	body := b.msgs[mi].Payload()
	pt := &b.points[i]
	p.reject(b.msgs[mi], b.meta[mi], body, payload.Errorf(payload.ReasonStoreRejected,
		"the database refused %s at %s: %v (the database holds this field with another type, stored before the field was declared; the operations centre can declare the field as stored or rename it)",
		pt.Measurement, pt.Time.UTC().Format(time.RFC3339Nano), errors.Unwrap(err)))
}

// acker acknowledges batches in arrival order once written.
func (p *Pipeline) acker(ackQ <-chan *batch) {
	failed := false
	for b := range ackQ {
		<-b.done
		n := len(b.msgs)
		// MQTT-4.6.0-2: PUBACKs go in arrival order, so after one batch
		// that cannot be acknowledged no later one is either.
		failed = failed || !b.ok
		if !failed {
			for _, m := range b.msgs {
				m.Ack()
			}
			if p.journal != nil {
				p.journal.Done(b.keys, p.now())
			}
			p.m.acked.Add(float64(n))
			p.observe(b)
		}
		// A batch that was not written (only at shutdown, when the drain
		// deadline passes) stays unacknowledged: the broker redelivers it.
		for range n {
			<-p.win.slots
		}
		p.recycle(b)
	}
}

// observe hands b's stored messages to the observer. A point the store
// refused is still in b.points; its message was rejected and reported, and
// what the alert engine makes of it is as good as the rest of the message.
func (p *Pipeline) observe(b *batch) {
	if p.observer == nil {
		return
	}
	obs := p.observed[:0]
	for i, m := range b.meta {
		from := b.msgAt[i]
		for _, pt := range m.parts {
			if pt.dev != nil && from < pt.end {
				pts := b.points[from:pt.end]
				obs = append(obs, Stored{Device: pt.dev, Points: pts})
				p.tellTooOld(msgMeta{topic: m.topic, integrator: m.integrator, device: pt.dev.ID}, pts)
			}
			from = pt.end
		}
		if m.dev == nil {
			continue
		}
		end := len(b.points)
		if i+1 < len(b.msgAt) {
			end = b.msgAt[i+1]
		}
		if m.unitsAt > 0 && m.unitsAt < end {
			end = m.unitsAt // the units are not the device's data
		}
		if b.msgAt[i] < end {
			pts := b.points[b.msgAt[i]:end]
			obs = append(obs, Stored{Device: m.dev, Points: pts})
			p.tellTooOld(m, pts)
		}
	}
	if len(obs) > 0 {
		p.observer.Stored(obs)
	}
	clear(obs)
	p.observed = obs[:0]
}

// tellTooOld tells the integrator of m that it will raise no alert with
// a status or event stamped more than AlertMaxAge ago (the oldest one is
// named).
func (p *Pipeline) tellTooOld(m msgMeta, pts []point.Point) {
	if p.o.AlertMaxAge <= 0 {
		return
	}
	now := p.now()
	oldest := -1
	for j := range pts {
		// Only statuses and events: an old one is what would have paged
		// someone. Old readings are a gateway's backlog after an outage,
		// normal and stored without a word (they raise nothing either).
		if m := pts[j].Measurement; m != payload.MeasurementStatus && m != payload.MeasurementEvent {
			continue
		}
		if now.Sub(pts[j].Time) > p.o.AlertMaxAge && (oldest < 0 || pts[j].Time.Before(pts[oldest].Time)) {
			oldest = j
		}
	}
	if oldest < 0 {
		return
	}
	t := pts[oldest].Time
	p.Notify(m.integrator, m.device, m.topic, payload.Errorf(payload.ReasonTooOldForAlerts,
		"stored, but a %s stamped %s (%s ago) is older than %s and raises or clears no alert; send data as it happens, with the device clock set right",
		pts[oldest].Measurement, t.UTC().Format(time.RFC3339), now.Sub(t).Round(time.Second), p.o.AlertMaxAge))
}

// InFlight is the number of messages received and not yet acknowledged,
// and the bound on it.
func (p *Pipeline) InFlight() (n, limit int) { return len(p.win.slots), cap(p.win.slots) }

// Ready reports whether the pipeline can store: the last write succeeded.
func (p *Pipeline) Ready() error {
	if p.writeErr.Load() {
		return fmt.Errorf("store writes are failing; %d messages waiting", len(p.win.slots))
	}
	return nil
}
