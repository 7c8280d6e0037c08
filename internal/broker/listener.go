package broker

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// listener is a TCP (or TLS) listener for mochi that, unlike mochi's own,
// finishes every connection goroutine before Close returns. mochi's
// attachClient calls ClientsWg.Add inside the connection goroutine, so
// with its listener a connection accepted during shutdown races with the
// server's ClientsWg.Wait (the race detector reports it); here every Add
// happens before Close returns, and Wait comes after.
type listener struct {
	id, address string
	tlsConfig   *tls.Config
	log         *slog.Logger

	ln     net.Listener
	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

var _ listeners.Listener = (*listener)(nil)

func newListener(id, address string, tc *tls.Config) *listener {
	return &listener{id: id, address: address, tlsConfig: tc, conns: map[net.Conn]struct{}{}}
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
		l.conns[conn] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		go func() {
			defer l.wg.Done()
			err := establish(l.id, conn)
			l.mu.Lock()
			delete(l.conns, conn)
			closed := l.closed
			l.mu.Unlock()
			conn.Close()
			if err != nil && !closed && !errors.Is(err, io.EOF) {
				l.log.Debug("broker: client connection ended", "listener", l.id, "remote", conn.RemoteAddr().String(), "err", err)
			}
		}()
	}
}

// Close stops accepting, disconnects this listener's clients (closeClients
// for those attached, closing the socket of any still connecting) and
// waits for their goroutines.
func (l *listener) Close(closeClients listeners.CloseFn) {
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
	closeClients(l.id)
	l.mu.Lock()
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}
