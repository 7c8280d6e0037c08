package stream

import (
	"net"
	"testing"
	"time"
)

// recordConn records the write deadlines that reach the socket.
type recordConn struct {
	net.Conn
	got []time.Time
}

func (c *recordConn) SetWriteDeadline(t time.Time) error { c.got = append(c.got, t); return nil }
func (c *recordConn) SetDeadline(t time.Time) error      { c.got = append(c.got, t); return nil }

func TestDeadlineConnPassesOnlyWhatMatters(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	for _, tc := range []struct {
		name string
		set  []time.Time // SetWriteDeadline calls, in order
		want []time.Time // what reaches the socket
	}{
		{"first deadline", []time.Time{at(10)}, []time.Time{at(10)}},
		{"later by less than slack", []time.Time{at(10), at(11), at(12.5)}, []time.Time{at(10)}},
		{"later by more than slack", []time.Time{at(10), at(12.6)}, []time.Time{at(10), at(12.6)}},
		{"earlier", []time.Time{at(10), at(9)}, []time.Time{at(10), at(9)}},
		{"cleared, then set", []time.Time{at(10), {}, at(10)}, []time.Time{at(10), {}, at(10)}},
		{"steps add up", []time.Time{at(10), at(12), at(13), at(14)}, []time.Time{at(10), at(13)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &recordConn{}
			c := &deadlineConn{Conn: rc, slack: 2500 * time.Millisecond}
			for _, d := range tc.set {
				_ = c.SetWriteDeadline(d)
			}
			if len(rc.got) != len(tc.want) {
				t.Fatalf("socket got %v, want %v", rc.got, tc.want)
			}
			for i := range tc.want {
				if !rc.got[i].Equal(tc.want[i]) {
					t.Fatalf("socket got %v, want %v", rc.got, tc.want)
				}
			}
		})
	}
}
