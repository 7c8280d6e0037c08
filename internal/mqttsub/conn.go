package mqttsub

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// readBufferSize is large enough to hold hundreds of typical messages, so
// one read syscall serves many packets.
const readBufferSize = 64 << 10

// maxPendingWrite bounds bytes accepted but not yet written; Write blocks
// beyond it.
const maxPendingWrite = 1 << 20

// bufferedConn reads through a buffer and coalesces writes. paho reads each
// packet straight from the connection in several small reads (fixed header,
// length, body) and writes each packet, every 4-byte PUBACK included, with
// its own syscall: at tens of thousands of messages a second those syscalls
// were most of ingest's CPU (docs/BENCHMARKS.md).
//
// Write appends to a pending buffer and wakes a flusher goroutine, which
// writes whatever has accumulated in one syscall: an idle connection writes
// at once, a busy one sends many packets per write. A write error is
// returned by the next Write and closes the connection, which paho treats
// as a lost connection (unacknowledged messages are then redelivered).
type bufferedConn struct {
	net.Conn
	r *bufio.Reader

	mu      sync.Mutex
	cond    *sync.Cond
	pending []byte
	spare   []byte
	err     error
	closed  bool
	wake    chan struct{}
	flushed chan struct{} // closed when the flusher exits
}

func newBufferedConn(c net.Conn) *bufferedConn {
	b := &bufferedConn{
		Conn:    c,
		r:       bufio.NewReaderSize(c, readBufferSize),
		wake:    make(chan struct{}, 1),
		flushed: make(chan struct{}),
	}
	b.cond = sync.NewCond(&b.mu)
	go b.flusher()
	return b
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *bufferedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.pending) > maxPendingWrite && c.err == nil && !c.closed {
		c.cond.Wait()
	}
	if c.err != nil {
		return 0, c.err
	}
	if c.closed {
		return 0, net.ErrClosed
	}
	c.pending = append(c.pending, p...)
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (c *bufferedConn) flusher() {
	defer close(c.flushed)
	for range c.wake {
		c.mu.Lock()
		data := c.pending
		c.pending, c.spare = c.spare[:0], nil
		c.mu.Unlock()
		if len(data) == 0 {
			continue
		}
		_, err := c.Conn.Write(data)
		c.mu.Lock()
		c.spare = data[:0]
		if err != nil && c.err == nil {
			c.err = err
		}
		c.cond.Broadcast()
		c.mu.Unlock()
		if err != nil {
			c.Conn.Close()
		}
	}
}

// Close writes what is pending (paho's DISCONNECT among it), briefly, then
// closes.
func (c *bufferedConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.cond.Broadcast()
	c.mu.Unlock()
	c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	select {
	case c.wake <- struct{}{}:
	default:
	}
	close(c.wake)
	<-c.flushed
	return c.Conn.Close()
}

// Dialer opens tcp:// (mqtt://) and ssl:// (tls://, mqtts://) connections
// for paho, buffered; pass it to paho's SetCustomOpenConnectionFn.
func Dialer(tlsConfig *tls.Config) paho.OpenConnectionFunc {
	return func(u *url.URL, o paho.ClientOptions) (net.Conn, error) {
		timeout := o.ConnectTimeout
		if timeout == 0 {
			timeout = 30 * time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		var (
			conn net.Conn
			err  error
		)
		switch u.Scheme {
		case "tcp", "mqtt":
			conn, err = (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext(ctx, "tcp", u.Host)
		case "ssl", "tls", "mqtts":
			d := &tls.Dialer{NetDialer: &net.Dialer{KeepAlive: 30 * time.Second}, Config: tlsConfig}
			conn, err = d.DialContext(ctx, "tcp", u.Host)
		default:
			return nil, fmt.Errorf("mqtt broker scheme %q: use tcp:// or ssl://", u.Scheme)
		}
		if err != nil {
			return nil, err
		}
		return newBufferedConn(conn), nil
	}
}
