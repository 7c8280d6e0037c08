package stream_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// A fleet is many websocket clients in a child process (this test binary
// run again with fleetURL set): the server's memory is then measured
// without the clients' own, and each process needs one file descriptor per
// client rather than two.
//
// The child dials every client (each reads its snapshot), then writes
// "ready N" on file descriptor 3. Every client decodes each frame; when
// every client has received the alert whose count is R it writes
// "round R". On "report" from the parent (stdin) it writes
// "report P50 P99 MAX COUNT": the delivery latencies in nanoseconds, from
// the time stamped in the alert's message ("vi") by the parent just before
// it applied the delta, to the client having decoded it (both processes
// read the same system clock). Closing stdin ends the child.
const (
	fleetURL     = "IOC_STREAM_FLEET_URL"
	fleetClients = "IOC_STREAM_FLEET_CLIENTS"
)

// raiseFDLimit lifts this process's open-file limit to its hard limit and
// returns the limit then in force.
func raiseFDLimit() (int, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return 0, fmt.Errorf("setrlimit: %w", err)
		}
	}
	return int(min(l.Cur, 1<<30)), nil
}

// fdHeadroom is what each process keeps for descriptors other than the
// clients' sockets (listener, pipes, test binary, runtime).
const fdHeadroom = 100

// TestFleet is the child's body; in an ordinary run it is skipped.
func TestFleet(t *testing.T) {
	url := os.Getenv(fleetURL)
	if url == "" {
		t.Skip("runs only as the client fleet of a fan-out test or benchmark")
	}
	out := os.NewFile(3, "fleet")
	say := func(format string, a ...any) { fmt.Fprintf(out, format+"\n", a...) }
	n, err := strconv.Atoi(os.Getenv(fleetClients))
	if err != nil || n < 1 {
		say("error %s=%q", fleetClients, os.Getenv(fleetClients))
		return
	}
	if lim, err := raiseFDLimit(); err != nil || lim < n+fdHeadroom {
		say("error open-file limit %d for %d clients: %v", lim, n, err)
		return
	}

	var mu sync.Mutex
	got := map[int]int{} // round → clients that have it
	lat := make([][]int64, n)
	// read decodes every frame of client i (from the first delta on, so
	// that it answers pings while the others dial) and counts the alerts.
	read := func(i int, c *websocket.Conn) {
		for {
			_, b, err := c.ReadMessage()
			if err != nil {
				return
			}
			var m struct {
				Type  string `json:"type"`
				Alert *struct {
					Count   int               `json:"count"`
					Message map[string]string `json:"message"`
				} `json:"alert"`
			}
			if json.Unmarshal(b, &m) != nil || m.Type != "alert" || m.Alert == nil {
				continue
			}
			now := time.Now().UnixNano()
			stamp, err := strconv.ParseInt(m.Alert.Message["vi"], 10, 64)
			mu.Lock()
			if err == nil {
				lat[i] = append(lat[i], now-stamp)
			}
			got[m.Alert.Count]++
			if got[m.Alert.Count] == n {
				say("round %d", m.Alert.Count)
			}
			mu.Unlock()
		}
	}

	conns := make([]*websocket.Conn, n)
	next := make(chan int)
	errs := make(chan error, n)
	var dialers, readers sync.WaitGroup
	for range 32 {
		dialers.Go(func() {
			for i := range next {
				c, _, err := websocket.DefaultDialer.Dial(url, nil)
				if err == nil {
					_ = c.SetReadDeadline(time.Now().Add(time.Minute))
					_, _, err = c.ReadMessage() // the snapshot
					_ = c.SetReadDeadline(time.Time{})
				}
				if err != nil {
					errs <- fmt.Errorf("client %d: %w", i, err)
					continue
				}
				conns[i] = c
				readers.Go(func() { read(i, c) })
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	dialers.Wait()
	close(errs)
	if err := <-errs; err != nil {
		say("error %v", err)
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
		return
	}
	say("ready %d", n)

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() != "report" {
			continue
		}
		mu.Lock()
		var all []int64
		for _, l := range lat {
			all = append(all, l...)
		}
		mu.Unlock()
		if len(all) == 0 {
			say("report 0 0 0 0")
			continue
		}
		slices.Sort(all)
		say("report %d %d %d %d", all[len(all)/2], all[len(all)*99/100], all[len(all)-1], len(all))
	}
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	readers.Wait()
}

type fleet struct {
	in    io.WriteCloser
	lines chan string
	log   *bytes.Buffer
}

// startFleet starts n clients of url in a child process and waits until
// every one has its snapshot.
func startFleet(t testing.TB, url string, n int) *fleet {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFleet$", "-test.count=1")
	cmd.Env = append(os.Environ(), fleetURL+"="+url, fleetClients+"="+strconv.Itoa(n))
	f := &fleet{lines: make(chan string, 64), log: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = f.log, f.log
	cmd.ExtraFiles = []*os.File{w}
	if f.in, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	go func() {
		s := bufio.NewScanner(r)
		for s.Scan() {
			f.lines <- s.Text()
		}
		close(f.lines)
	}()
	t.Cleanup(func() {
		f.in.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
			<-done
		}
		r.Close()
	})
	f.wait(t, "ready", 10*time.Minute)
	return f
}

// wait returns the fields of the next line starting with word; it fails
// the test on the child's error or after timeout.
func (f *fleet) wait(t testing.TB, word string, timeout time.Duration) []string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-f.lines:
			if !ok {
				t.Fatalf("the client fleet ended before %q:\n%s", word, f.log)
			}
			fields := strings.Fields(l)
			if len(fields) > 0 && fields[0] == "error" {
				t.Fatalf("client fleet: %s", l)
			}
			if len(fields) > 0 && fields[0] == word {
				return fields[1:]
			}
		case <-deadline:
			t.Fatalf("no %q from the client fleet in %s", word, timeout)
		}
	}
}

// report returns the delivery latencies the clients saw so far.
func (f *fleet) report(t testing.TB) (p50, p99, max time.Duration, count int) {
	t.Helper()
	if _, err := io.WriteString(f.in, "report\n"); err != nil {
		t.Fatal(err)
	}
	r := f.wait(t, "report", time.Minute)
	var v [4]int64
	for i := range v {
		v[i], _ = strconv.ParseInt(r[i], 10, 64)
	}
	return time.Duration(v[0]), time.Duration(v[1]), time.Duration(v[2]), int(v[3])
}

// fleetSize is how many clients want may be, given both processes' file
// limits (the child raises its own to the same hard limit).
func fleetSize(t testing.TB, want int) int {
	t.Helper()
	lim, err := raiseFDLimit()
	if err != nil {
		t.Skipf("cannot raise the open-file limit: %v", err)
	}
	return min(want, lim-fdHeadroom)
}
