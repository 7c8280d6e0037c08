// Package stream serves the live picture over websockets (gorilla): a
// snapshot on connect, then every delta in order with its sequence number.
//
// A slow client never slows the picture or other clients: the picture
// offers each delta to each client without blocking; a client's queue is
// bounded; a newer state of a device (or of the summary) replaces an older
// one still queued; alerts are never dropped silently: a client whose queue
// overflows is told ("lagging") and sent a fresh snapshot. A client that
// stops reading is cut off by the write deadline.
//
// An idle client costs little: one goroutine blocked reading (its buffer
// is small, since clients send little), no write buffer (writes borrow
// one from a pool shared by all clients) and no writer goroutine: a writer
// runs only while the client has something to send, and one pinger
// serves every client. Each delta is encoded once and framed once
// (a prepared message) for every client.
//
// Protocol (JSON text frames):
//
//	server → client  {"type":"snapshot","epoch":…,"seq":N,…}   on connect, on filter change, after lagging
//	                 {"type":"resumed","epoch":…,"seq":N}        ?since= was honoured; replayed deltas follow
//	                 {"seq":N,"type":"alert"|"alert_cleared"|"device"|…}
//	                 {"type":"lagging","reason":…}               a snapshot follows
//	client → server  {"type":"filter","districts":[…],"severities":[…],"kinds":[…]}
package stream

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/ioc-vn/ioc/internal/live"
	"github.com/prometheus/client_golang/prometheus"
)

// Options bound each connection.
type Options struct {
	// QueueLen is how many deltas a client may have waiting; past it the
	// client is lagging and gets a fresh snapshot instead.
	QueueLen int
	// WriteWait bounds one write: a client that does not read for this
	// long (at least three quarters of it: the socket's deadline is moved
	// only in steps of a quarter) is cut off.
	WriteWait time.Duration
	// PingPeriod is how often the server pings; PongWait how long it waits
	// for any frame from the client before giving up.
	PingPeriod time.Duration
	PongWait   time.Duration
	// MaxMessage bounds a frame from the client.
	MaxMessage int64
	// AllowedOrigins are the origins (scheme://host[:port]) allowed besides
	// the server's own; "*" allows any (development only).
	AllowedOrigins []string
	// MaxClients bounds concurrent connections. Each costs the server a
	// file descriptor, one goroutine and about 2 KB of heap while idle
	// (BenchmarkFanOut); the process's open-file limit must allow them.
	MaxClients int
}

// DefaultOptions suit a wall on a LAN and technicians on mobile networks.
var DefaultOptions = Options{
	QueueLen:   1024,
	WriteWait:  10 * time.Second,
	PingPeriod: 25 * time.Second,
	PongWait:   60 * time.Second,
	MaxMessage: 4 << 10,
	MaxClients: 10000,
}

// Server is the websocket endpoint.
type Server struct {
	pic  *live.Picture
	opts Options
	log  *slog.Logger
	up   websocket.Upgrader
	m    *metrics
	// Decorate adds server-side facts (district names) to each snapshot;
	// may be nil.
	Decorate func(s *live.Snapshot) any

	mu      sync.Mutex
	clients map[*client]struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

type metrics struct {
	clients   prometheus.Gauge
	sent      prometheus.Counter
	lagging   prometheus.Counter
	coalesced prometheus.Counter
	closed    *prometheus.CounterVec
	refused   *prometheus.CounterVec
}

// New builds the endpoint.
func New(pic *live.Picture, opts Options, log *slog.Logger, reg prometheus.Registerer) (*Server, error) {
	if opts.QueueLen < 1 || opts.WriteWait <= 0 || opts.PingPeriod <= 0 || opts.PongWait <= opts.PingPeriod || opts.MaxMessage < 256 || opts.MaxClients < 1 {
		return nil, errors.New("stream: options out of range")
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{pic: pic, opts: opts, log: log, clients: map[*client]struct{}{}, ctx: ctx, cancel: cancel, m: &metrics{
		clients:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "ioc_ws_clients", Help: "Connected websocket clients."}),
		sent:      prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_ws_messages_sent_total", Help: "Frames written to websocket clients."}),
		lagging:   prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_ws_lagging_total", Help: "Times a client fell too far behind and was resynced with a snapshot."}),
		coalesced: prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_ws_coalesced_total", Help: "Queued device or summary updates replaced by a newer one before being sent."}),
		closed:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_ws_disconnects_total", Help: "Websocket connections ended, by reason."}, []string{"reason"}),
		refused:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_ws_refused_total", Help: "Websocket upgrades refused, by reason."}, []string{"reason"}),
	}}
	if reg != nil {
		for _, c := range []prometheus.Collector{s.m.clients, s.m.sent, s.m.lagging, s.m.coalesced, s.m.closed, s.m.refused} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	s.up = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		// Clients send only filters (MaxMessage bounds them); a frame
		// longer than the buffer is still read whole.
		ReadBufferSize: readBufferSize,
		// Snapshots are written through a buffer borrowed for the write;
		// deltas, prepared frames, need none.
		WriteBufferSize:   16 << 10,
		WriteBufferPool:   &sync.Pool{},
		EnableCompression: false,
		CheckOrigin:       s.checkOrigin,
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			http.Error(w, reason.Error(), status)
		},
	}
	s.wg.Add(1)
	go s.pinger()
	return s, nil
}

// readBufferSize is each connection's read buffer: room for a control
// frame (125 bytes and its header) and a small filter.
const readBufferSize = 256

// pinger pings every client each PingPeriod until the server closes.
func (s *Server) pinger() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.PingPeriod)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.PingAll()
		case <-s.ctx.Done():
			return
		}
	}
}

// PingAll sends every client a ping (the server does so each PingPeriod);
// a client that answers nothing for PongWait is cut off.
func (s *Server) PingAll() {
	s.mu.Lock()
	all := make([]*client, 0, len(s.clients))
	for c := range s.clients {
		all = append(all, c)
	}
	s.mu.Unlock()
	for _, c := range all {
		c.mu.Lock()
		c.pingDue = true
		start := c.startLocked()
		c.mu.Unlock()
		if start {
			go c.writeLoop(nil)
		}
	}
}

// checkOrigin allows the server's own origin and the configured ones.
// Browsers always send Origin on a websocket handshake; a request without
// one is not from a browser page, so cross-site forgery does not apply.
func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	return OriginAllowed(origin, r.Host, s.opts.AllowedOrigins)
}

// OriginAllowed reports whether a browser origin may use this server:
// its own host, or one of allowed ("*" allows every origin).
func OriginAllowed(origin, host string, allowed []string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, host) {
		return true
	}
	for _, a := range allowed {
		if a == "*" || strings.EqualFold(strings.TrimRight(a, "/"), origin) {
			return true
		}
	}
	return false
}

// Close disconnects every client and waits for their goroutines.
func (s *Server) Close() {
	s.cancel()
	s.mu.Lock()
	all := make([]*client, 0, len(s.clients))
	for c := range s.clients {
		all = append(all, c)
	}
	s.mu.Unlock()
	for _, c := range all {
		c.close("shutdown")
	}
	s.wg.Wait()
}

// CloseSession disconnects every client of the session (its session was
// revoked), telling each why (close code 1008, "session ended"), and
// returns how many there were.
func (s *Server) CloseSession(session string) int {
	if session == "" {
		return 0
	}
	var ended []*client
	s.mu.Lock()
	for c := range s.clients {
		if c.session == session {
			ended = append(ended, c)
		}
	}
	s.mu.Unlock()
	msg := websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "session ended")
	for _, c := range ended {
		_ = c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		c.close("session_ended")
	}
	return len(ended)
}

// Clients returns the number of connected clients.
func (s *Server) Clients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

// ServeHTTP upgrades the request for no session in particular (Serve).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.Serve(w, r, "") }

// Serve upgrades the request of the session named session (auth's
// Session.ID), which CloseSession can end. The caller has authenticated
// it. Query parameters: district, severity, kind (comma-separated
// filters); epoch and since to resume.
func (s *Server) Serve(w http.ResponseWriter, r *http.Request, session string) {
	q := r.URL.Query()
	f, err := live.ParseFilter(q.Get("district"), q.Get("severity"), q.Get("kind"))
	if err != nil {
		s.m.refused.WithLabelValues("filter").Inc()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var since uint64
	resume := q.Get("since") != ""
	if resume {
		if since, err = strconv.ParseUint(q.Get("since"), 10, 64); err != nil {
			s.m.refused.WithLabelValues("since").Inc()
			http.Error(w, "since: not a sequence number", http.StatusBadRequest)
			return
		}
	}
	s.mu.Lock()
	full := len(s.clients) >= s.opts.MaxClients
	s.mu.Unlock()
	if full {
		s.m.refused.WithLabelValues("full").Inc()
		http.Error(w, "too many live connections", http.StatusServiceUnavailable)
		return
	}
	if s.ctx.Err() != nil {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	conn, err := s.up.Upgrade(hijacker{ResponseWriter: w, slack: s.opts.WriteWait / 4}, r, nil)
	if err != nil {
		s.m.refused.WithLabelValues("handshake").Inc()
		return // Upgrade has answered
	}
	// writing: the picture's offers until the first frames are written
	// only queue.
	c := &client{srv: s, conn: conn, filter: f, session: session, writing: true}
	s.mu.Lock()
	if s.ctx.Err() != nil { // Close has taken its list of clients
		s.mu.Unlock()
		conn.Close()
		return
	}
	s.clients[c] = struct{}{}
	s.wg.Add(2)
	s.mu.Unlock()
	s.m.clients.Inc()

	var first []any
	if resume {
		c.after = since
		if s.pic.Resume(c, q.Get("epoch"), since) {
			first = append(first, resumed{Type: "resumed", Epoch: s.pic.Epoch(), Seq: since})
		} else {
			resume = false
		}
	}
	if !resume {
		snap := s.pic.Subscribe(c, f)
		first = append(first, s.decorate(&snap))
		c.mu.Lock()
		c.after = snap.Seq
		c.mu.Unlock()
	}
	go c.readLoop()
	go c.writeLoop(first)
}

type resumed struct {
	Type  string `json:"type"`
	Epoch string `json:"epoch"`
	Seq   uint64 `json:"seq"`
}

type lagging struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

func (s *Server) decorate(snap *live.Snapshot) any {
	if s.Decorate != nil {
		return s.Decorate(snap)
	}
	return snap
}

// client is one connection. The picture calls Offer with its lock held;
// a write loop, started when there is something to send, drains the queue
// and ends when it is empty.
type client struct {
	srv     *Server
	conn    *websocket.Conn
	session string // auth's Session.ID; "" for none

	mu      sync.Mutex
	filter  live.Filter
	queue   []*live.Delta  // nil entries were superseded
	spare   []*live.Delta  // the queue's other buffer, while small
	live    int            // non-nil entries in queue
	pending map[string]int // coalescing key → index in queue; nil when empty
	resync  string         // non-empty: send a snapshot (this is why)
	after   uint64         // deltas up to this seq are in the last snapshot
	pingDue bool
	writing bool // a write loop runs
	closed  bool
}

// keepCap bounds the queue buffers and coalescing map an idle client
// keeps for the next delta; a burst's bigger ones are let go.
const keepCap = 64

// Offer implements live.Subscriber; it never blocks.
func (c *client) Offer(d *live.Delta) {
	c.mu.Lock()
	if c.closed || c.resync != "" || !c.filter.Match(d) {
		c.mu.Unlock()
		return
	}
	c.pushLocked(d)
	over := c.live > c.srv.opts.QueueLen
	if over {
		c.resync = "queue full: the connection is too slow for the rate of changes"
		c.dropQueueLocked()
	}
	start := c.startLocked()
	c.mu.Unlock()
	if over {
		c.srv.m.lagging.Inc()
	}
	if start {
		go c.writeLoop(nil)
	}
}

// startLocked reports whether the caller is to start a write loop (none
// runs, and the client is open); it counts the loop in the server's.
func (c *client) startLocked() bool {
	if c.writing || c.closed {
		return false
	}
	c.writing = true
	c.srv.wg.Add(1) // the read loop, not done before closed, keeps the count above zero
	return true
}

func (c *client) pushLocked(d *live.Delta) {
	if k := d.Key(); k != "" {
		if i, ok := c.pending[k]; ok {
			c.queue[i] = nil
			c.live--
			c.srv.m.coalesced.Inc()
		}
		if c.pending == nil {
			c.pending = map[string]int{}
		}
		c.pending[k] = len(c.queue)
	}
	c.queue = append(c.queue, d)
	c.live++
}

func (c *client) dropQueueLocked() {
	clear(c.queue)
	c.queue = c.queue[:0]
	c.live = 0
	c.forgetKeysLocked()
}

func (c *client) forgetKeysLocked() {
	if len(c.pending) > keepCap {
		c.pending = nil
	} else {
		clear(c.pending)
	}
}

func (c *client) readLoop() {
	defer c.srv.wg.Done()
	defer c.close("read")
	c.conn.SetReadLimit(c.srv.opts.MaxMessage)
	_ = c.conn.SetReadDeadline(time.Now().Add(c.srv.opts.PongWait))
	c.conn.SetPongHandler(func(string) error {
		return c.conn.SetReadDeadline(time.Now().Add(c.srv.opts.PongWait))
	})
	for {
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(c.srv.opts.PongWait))
		var msg struct {
			Type string `json:"type"`
			live.Filter
		}
		if err := json.Unmarshal(b, &msg); err != nil || msg.Type != "filter" {
			c.fail("bad client message: want {\"type\":\"filter\",...}")
			return
		}
		if err := msg.Filter.Validate(); err != nil {
			c.fail(err.Error())
			return
		}
		c.mu.Lock()
		c.filter = msg.Filter
		c.resync = "filter changed"
		c.dropQueueLocked()
		start := c.startLocked()
		c.mu.Unlock()
		if start {
			go c.writeLoop(nil)
		}
	}
}

// fail tells the client why it is being disconnected.
func (c *client) fail(reason string) {
	msg := websocket.FormatCloseMessage(websocket.ClosePolicyViolation, reason)
	_ = c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	c.srv.m.closed.WithLabelValues("protocol").Inc()
}

func (c *client) close(reason string) {
	c.mu.Lock()
	was := c.closed
	c.closed = true
	c.mu.Unlock()
	if was {
		return
	}
	c.srv.pic.Unsubscribe(c)
	c.conn.Close()
	c.srv.mu.Lock()
	delete(c.srv.clients, c)
	c.srv.mu.Unlock()
	c.srv.m.clients.Dec()
	c.srv.m.closed.WithLabelValues(reason).Inc()
}

// writeLoop writes first, then whatever is due (a ping, a resync, the
// queued deltas) until nothing is; it is the client's only writer.
func (c *client) writeLoop(first []any) {
	defer c.srv.wg.Done()
	for _, v := range first {
		if !c.writeJSON(v) {
			return
		}
	}
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return
		}
		reason, f, ping := c.resync, c.filter, c.pingDue
		c.pingDue = false
		if reason == "" && c.live == 0 && !ping {
			// Done: keep the buffers only while small.
			c.writing = false
			if cap(c.queue) > keepCap {
				c.queue = nil
			}
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		if ping {
			_ = c.conn.SetWriteDeadline(time.Now().Add(c.srv.opts.WriteWait))
			if err := c.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				c.close("write")
				return
			}
		}
		if reason != "" {
			if !c.resyncNow(reason, f) {
				return
			}
		}
		c.mu.Lock()
		batch := c.queue
		c.queue, c.spare = c.spare[:0], nil
		after := c.after
		c.live = 0
		c.forgetKeysLocked()
		c.mu.Unlock()
		for _, d := range batch {
			if d == nil || d.Seq <= after {
				continue
			}
			if !c.writeDelta(d) {
				return
			}
		}
		clear(batch)
		if cap(batch) <= keepCap {
			// Keep it: as the queue when nothing came meanwhile (the
			// next delta then needs no allocation), else as the spare.
			c.mu.Lock()
			if c.queue == nil {
				c.queue = batch[:0]
			} else {
				c.spare = batch[:0]
			}
			c.mu.Unlock()
		}
	}
}

// resyncNow sends the lagging notice (unless the client asked for it) and a
// snapshot, then drops queued deltas the snapshot already includes.
func (c *client) resyncNow(reason string, f live.Filter) bool {
	if reason != "filter changed" {
		if !c.writeJSON(lagging{Type: "lagging", Reason: reason}) {
			return false
		}
	}
	// Clear the flag first, so deltas after the snapshot queue up again;
	// those the snapshot covers are skipped by seq.
	c.mu.Lock()
	c.resync = ""
	c.mu.Unlock()
	snap := c.srv.pic.Snapshot(f)
	c.mu.Lock()
	c.after = snap.Seq
	c.mu.Unlock()
	return c.writeJSON(c.srv.decorate(&snap))
}

func (c *client) writeJSON(v any) bool {
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.srv.opts.WriteWait))
	if err := c.conn.WriteJSON(v); err != nil {
		c.close("write")
		return false
	}
	c.srv.m.sent.Inc()
	return true
}

func (c *client) writeDelta(d *live.Delta) bool {
	d.Once(func() {
		pm, err := websocket.NewPreparedMessage(websocket.TextMessage, d.JSON)
		if err == nil {
			d.Extra = pm
		}
	})
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.srv.opts.WriteWait))
	var err error
	if pm, ok := d.Extra.(*websocket.PreparedMessage); ok {
		err = c.conn.WritePreparedMessage(pm)
	} else {
		err = c.conn.WriteMessage(websocket.TextMessage, d.JSON)
	}
	if err != nil {
		c.close("write")
		return false
	}
	c.srv.m.sent.Inc()
	return true
}
