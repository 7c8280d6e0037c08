package stream

import (
	"bufio"
	"net"
	"net/http"
	"time"
)

// deadlineConn passes a write deadline on to the socket only when it is
// cleared, moves earlier, or moves later by more than slack. gorilla sets
// the deadline before every frame, and re-arming the socket's timer for
// every client on every delta was a fifth of the fan-out's CPU. A write
// may so be cut off up to slack earlier than asked, never later.
//
// gorilla calls SetWriteDeadline only while holding its write lock, so
// the calls are never concurrent.
type deadlineConn struct {
	net.Conn
	slack time.Duration
	set   time.Time // the deadline the socket has
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	if !t.IsZero() && !c.set.IsZero() && !t.Before(c.set) && t.Sub(c.set) <= c.slack {
		return nil
	}
	c.set = t
	return c.Conn.SetWriteDeadline(t)
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.set = t
	return c.Conn.SetDeadline(t)
}

// hijacker hands gorilla the connection wrapped in a deadlineConn.
type hijacker struct {
	http.ResponseWriter
	slack time.Duration
}

func (h hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	return &deadlineConn{Conn: conn, slack: h.slack}, brw, nil
}
