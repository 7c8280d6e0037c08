package broker

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// listener is a TCP (or TLS) listener for mochi that, unlike mochi's own,
// bounds sockets that have not sent CONNECT (a deadline and a cap per
// remote address, through its connGuard) and finishes every connection
// goroutine before Close returns. mochi's
// attachClient calls ClientsWg.Add inside the connection goroutine, so
// with its listener a connection accepted during shutdown races with the
// server's ClientsWg.Wait (the race detector reports it); here every Add
// happens before Close returns, and Wait comes after.
type listener struct {
	id, address string
	tlsConfig   *tls.Config
	guard       *connGuard
	log         *slog.Logger
	// disconnect ends the sessions of this listener's attached clients
	// (see Close).
	disconnect func(listenerID string)

	ln     net.Listener
	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

var _ listeners.Listener = (*listener)(nil)

func newListener(id, address string, tc *tls.Config, g *connGuard, disconnect func(listenerID string)) *listener {
	return &listener{id: id, address: address, tlsConfig: tc, guard: g, disconnect: disconnect, conns: map[net.Conn]struct{}{}}
}

func (l *listener) ID() string      { return l.id }
func (l *listener) Address() string { return l.address }
func (l *listener) Protocol() string {
	if l.tlsConfig != nil {
		return "tls"
	}
	return "tcp"
}

func (l *listener) Init(log *slog.Logger) error {
	l.log = log
	var err error
	if l.tlsConfig != nil {
		l.ln, err = tls.Listen("tcp", l.address, l.tlsConfig)
	} else {
		l.ln, err = net.Listen("tcp", l.address)
	}
	return err
}

func (l *listener) Serve(establish listeners.EstablishFn) {
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			return // closed
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			conn.Close()
			return
		}
		if !l.guard.admit(conn) {
			l.mu.Unlock()
			conn.Close()
			continue
		}
		l.conns[conn] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		// mochi reads CONNECT without a deadline and sets its keep-alive
		// deadline only after it: until then this one holds.
		_ = conn.SetDeadline(time.Now().Add(l.guard.timeout))
		go func() {
			defer l.wg.Done()
			err := establish(l.id, conn)
			l.mu.Lock()
			delete(l.conns, conn)
			closed := l.closed
			l.mu.Unlock()
			conn.Close()
			if l.guard.connected(conn) && !closed {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					l.guard.refused.WithLabelValues("connect_timeout").Inc()
				}
			}
			if err != nil && !closed && !errors.Is(err, io.EOF) {
				l.log.Debug("broker: client connection ended", "listener", l.id, "remote", conn.RemoteAddr().String(), "err", err)
			}
		}()
	}
}

// Close stops accepting, disconnects this listener's clients (l.disconnect
// for those attached, closing the socket of any still connecting) and
// waits for their goroutines.
//
// mochi's own CloseFn is not called: it reaches Clients.GetByListener,
// which takes the clients' read lock twice (mochi-mqtt/server#488), so a
// client connecting or disconnecting during shutdown queues a writer
// between the two and the broker deadlocks. l.disconnect reads the clients
// under one lock.
func (l *listener) Close(listeners.CloseFn) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	l.mu.Unlock()
	if l.ln != nil {
		l.ln.Close()
	}
	if l.disconnect != nil {
		l.disconnect(l.id)
	}
	l.mu.Lock()
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}
