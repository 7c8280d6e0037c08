package stream_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ioc-vn/ioc/internal/testenv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/live"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/stream"
)

func newServer(t testing.TB, pic *live.Picture, mod func(*stream.Options)) (*stream.Server, string) {
	t.Helper()
	o := stream.DefaultOptions
	if mod != nil {
		mod(&o)
	}
	s, err := stream.New(pic, o, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() { s.Close(); hs.Close() })
	return s, "ws" + strings.TrimPrefix(hs.URL, "http")
}

// synced returns a picture holding n cameras in two districts.
func synced(n int) *live.Picture {
	p := live.New(1000)
	p.BeginSync()
	for i := 0; i < n; i++ {
		p.Apply(device(i, "online"))
	}
	p.EndSync()
	return p
}

func device(i int, status contract.Status) live.Update {
	id := fmt.Sprintf("cam-%03d", i)
	district := []string{"dai-tu", "vo-nhai"}[i%2]
	return live.Update{DeviceID: id, Device: &contract.DeviceState{ID: id, Kind: registry.Camera, District: district, Status: status, Health: "ok", Alerts: []string{}}}
}

func alertOn(i int, sev alert.Severity) live.Update {
	d := device(i, "online").Device
	id := "device-offline/" + d.ID
	return live.Update{AlertID: id, Alert: &alert.Alert{ID: id, Rule: "device-offline", Device: d.ID, DeviceKind: d.Kind, District: d.District, Severity: sev, State: alert.Active}}
}

type msg struct {
	Type    string `json:"type"`
	Seq     uint64 `json:"seq"`
	Epoch   string `json:"epoch"`
	Reason  string `json:"reason"`
	Alerts  []alert.Alert
	Devices []contract.DeviceState
	Alert   *alert.Alert
	Device  *contract.DeviceState
}

func dial(t testing.TB, url string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dialSmallBuffer connects with a 4 KiB receive buffer, so a client that
// reads slowly pushes back on the server quickly.
func dialSmallBuffer(t testing.TB, url string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		nd := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
			if err != nil {
				return err
			}
			return serr
		}}
		return nd.Dial(network, addr)
	}}
	c, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func next(t testing.TB, c *websocket.Conn) msg {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var m msg
	if err := c.ReadJSON(&m); err != nil {
		t.Fatalf("read: %v", err)
	}
	return m
}

func TestSnapshotThenOrderedDeltas(t *testing.T) {
	pic := synced(10)
	_, url := newServer(t, pic, nil)
	c := dial(t, url)
	s := next(t, c)
	if s.Type != "snapshot" || len(s.Devices) != 10 || s.Seq != pic.Seq() {
		t.Fatalf("snapshot %s %d devices seq %d (picture %d)", s.Type, len(s.Devices), s.Seq, pic.Seq())
	}
	pic.Apply(alertOn(3, alert.Critical))
	pic.Apply(device(3, "offline"))
	// In order; a summary superseded before it was sent is skipped.
	last := s.Seq
	var types []string
	for len(types) == 0 || types[len(types)-1] != "device" {
		m := next(t, c)
		if m.Seq <= last {
			t.Fatalf("delta %d after %d", m.Seq, last)
		}
		last = m.Seq
		types = append(types, m.Type)
	}
	if got := strings.Join(types, " "); got != "alert counts device" && got != "alert device" {
		t.Fatalf("deltas %s", got)
	}
}

func TestFilters(t *testing.T) {
	pic := synced(10)
	_, url := newServer(t, pic, nil)
	c := dial(t, url+"?district=dai-tu&severity=critical")
	s := next(t, c)
	for _, d := range s.Devices {
		if d.District != "dai-tu" {
			t.Fatalf("snapshot device %s of %s", d.ID, d.District)
		}
	}
	if len(s.Devices) != 5 {
		t.Fatalf("%d devices in dai-tu", len(s.Devices))
	}
	pic.Apply(alertOn(1, alert.Critical)) // vo-nhai: filtered out
	pic.Apply(alertOn(2, alert.Minor))    // dai-tu but minor: filtered out
	pic.Apply(alertOn(4, alert.Critical)) // sent
	for {
		m := next(t, c)
		if m.Type == "counts" {
			continue
		}
		if m.Type != "alert" || m.Alert.Device != "cam-004" {
			t.Fatalf("got %s %+v", m.Type, m.Alert)
		}
		break
	}
	// Change the filter without reconnecting: a snapshot under it follows.
	if err := c.WriteJSON(map[string]any{"type": "filter", "districts": []string{"vo-nhai"}}); err != nil {
		t.Fatal(err)
	}
	for {
		m := next(t, c)
		if m.Type != "snapshot" {
			continue
		}
		if len(m.Alerts) != 1 || m.Alerts[0].Device != "cam-001" || len(m.Devices) != 5 {
			t.Fatalf("snapshot after filter change: %d alerts %+v, %d devices", len(m.Alerts), m.Alerts, len(m.Devices))
		}
		break
	}
	// A bad filter is refused with a reason, and the connection closed.
	_ = c.WriteJSON(map[string]any{"type": "filter", "severities": []string{"urgent"}})
	for {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err := c.ReadMessage()
		if err != nil {
			if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != websocket.ClosePolicyViolation || !strings.Contains(ce.Text, "urgent") {
				t.Fatalf("bad filter: %v", err)
			}
			break
		}
	}
}

// TestSlowClientCoalescedThenResynced: a client that reads nothing while a
// device's state changes many times gets only the latest state; one that
// falls further behind than its queue is told and sent a snapshot, and no
// alert is lost to it silently.
func TestSlowClientCoalescedThenResynced(t *testing.T) {
	pic := synced(10)
	srv, url := newServer(t, pic, func(o *stream.Options) { o.QueueLen = 50 })
	_ = srv
	c := dial(t, url)
	next(t, c)
	// Stop the writer from draining: the picture's offers pile up in the
	// queue while we hold nothing; the writer runs concurrently, so just
	// count what arrives for one device.
	for i := 0; i < 200; i++ {
		st := contract.StatusOnline
		if i%2 == 0 {
			st = contract.StatusOffline
		}
		pic.Apply(device(7, st))
	}
	pic.Apply(device(7, "online"))
	var last msg
	n := 0
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		var m msg
		if err := c.ReadJSON(&m); err != nil {
			break
		}
		if m.Type == "device" {
			n++
			last = m
		}
	}
	if last.Device == nil || last.Device.Status != "online" {
		t.Fatalf("last device state %+v; want the final one", last.Device)
	}
	t.Logf("%d of 201 device updates sent", n)

	// A client that reads slowly while alerts churn: its queue overflows;
	// it is told, then sent a snapshot that matches the picture.
	c2 := dialSmallBuffer(t, url)
	first := next(t, c2)
	type result struct {
		lagging bool
		alerts  map[string]bool // as the client sees them once quiet
	}
	done := make(chan result, 1)
	go func() {
		r := result{}
		have := map[string]bool{}
		for _, a := range first.Alerts {
			have[a.ID] = true
		}
		for {
			_ = c2.SetReadDeadline(time.Now().Add(2 * time.Second))
			var m msg
			if err := c2.ReadJSON(&m); err != nil {
				r.alerts = have
				done <- r
				return
			}
			switch m.Type {
			case "lagging":
				r.lagging = true
			case "snapshot":
				have = map[string]bool{}
				for _, a := range m.Alerts {
					have[a.ID] = true
				}
			case "alert":
				have[m.Alert.ID] = true
			case "alert_cleared":
				delete(have, m.Alert.ID)
			}
			time.Sleep(200 * time.Microsecond) // slower than the churn
		}
	}()
	big := strings.Repeat("x", 4000) // more than the sockets' buffers hold in all
	for i := 0; i < 2000; i++ {
		u := alertOn(i%10, alert.Major)
		u.Alert.Message = map[string]string{"vi": big}
		pic.Apply(u)
		if i < 1995 {
			pic.Apply(live.Update{AlertID: fmt.Sprintf("device-offline/cam-%03d", i%10), Gone: true})
		}
	}
	r := <-done
	if !r.lagging {
		t.Fatal("the slow client was not told it was lagging")
	}
	var want []string
	for _, a := range pic.Alerts(live.Filter{}) {
		want = append(want, a.ID)
	}
	var got []string
	for id := range r.alerts {
		got = append(got, id)
	}
	sort.Strings(got)
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after resync the client has alerts %v, the picture %v", got, want)
	}
}

// TestStalledClientCutOffOthersUnaffected: a client that stops reading is
// disconnected by the write deadline, while another client keeps getting
// every delta, and publishing never waits for the stalled one: all 2,000
// deltas (8 MB, far past its socket buffers) are applied while it is still
// connected, which a publisher blocked on its writes could not do before
// the deadline cut it off.
func TestStalledClientCutOffOthersUnaffected(t *testing.T) {
	pic := synced(10)
	const writeWait = 8 * time.Second // far more than publishing takes on a busy machine
	srv, url := newServer(t, pic, func(o *stream.Options) { o.WriteWait = writeWait; o.QueueLen = 100000 })
	stalled := dialSmallBuffer(t, url)
	next(t, stalled)
	good := dial(t, url)
	next(t, good)

	var wg sync.WaitGroup
	wg.Add(1)
	got := 0
	go func() {
		defer wg.Done()
		for got < 2000 {
			_ = good.SetReadDeadline(time.Now().Add(30 * time.Second))
			var m struct {
				Type  string
				Alert *struct{ Note string } `json:"alert"`
			}
			_, b, err := good.ReadMessage()
			if err != nil {
				return
			}
			_ = json.Unmarshal(b, &m)
			if m.Type == "alert" {
				got++
			}
		}
	}()
	big := strings.Repeat("x", 4000)
	start := time.Now()
	for i := 0; i < 2000; i++ {
		u := alertOn(i%10, alert.Major)
		u.Alert.Message = map[string]string{"vi": big}
		u.Alert.Count = i
		pic.Apply(u)
	}
	applied := time.Since(start)
	if n := srv.Clients(); n != 2 {
		t.Errorf("the stalled client was cut off (%d clients) before publishing finished in %s: publishing waited for it", n, applied)
	}
	t.Logf("2,000 deltas published in %s with a stalled client", applied)
	wg.Wait()
	if got != 2000 {
		t.Fatalf("the reading client got %d of 2000 alerts", got)
	}
	testenv.Eventually(t, 3*writeWait, func() error {
		if n := srv.Clients(); n != 1 {
			return fmt.Errorf("stalled client still connected (%d clients)", n)
		}
		return nil
	})
}

func TestResumeAndResync(t *testing.T) {
	pic := synced(10)
	_, url := newServer(t, pic, nil)
	c := dial(t, url)
	s := next(t, c)
	c.Close()
	pic.Apply(alertOn(2, alert.Critical)) // missed while away
	pic.Apply(alertOn(3, alert.Minor))

	c = dial(t, fmt.Sprintf("%s?epoch=%s&since=%d", url, s.Epoch, s.Seq))
	if m := next(t, c); m.Type != "resumed" {
		t.Fatalf("resume: %s", m.Type)
	}
	var ids []string
	for len(ids) < 2 {
		m := next(t, c)
		if m.Type == "alert" {
			ids = append(ids, m.Alert.ID)
		}
	}
	if fmt.Sprint(ids) != "[device-offline/cam-002 device-offline/cam-003]" {
		t.Fatalf("replayed %v", ids)
	}
	// Another server's epoch (or one too old for the ring): a snapshot.
	for _, q := range []string{"epoch=other&since=1", fmt.Sprintf("epoch=%s&since=%d", s.Epoch, pic.Seq()+5)} {
		c := dial(t, url+"?"+q)
		if m := next(t, c); m.Type != "snapshot" || len(m.Alerts) != 2 {
			t.Fatalf("%s: %s with %d alerts; want a full snapshot", q, m.Type, len(m.Alerts))
		}
	}
}

func TestOriginChecked(t *testing.T) {
	pic := synced(1)
	_, url := newServer(t, pic, func(o *stream.Options) { o.AllowedOrigins = []string{"https://ioc.example.vn"} })
	for origin, ok := range map[string]bool{"https://ioc.example.vn": true, "https://evil.example": false, "null": false} {
		_, r, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {origin}})
		if ok != (err == nil) {
			status := 0
			if r != nil {
				status = r.StatusCode
			}
			t.Errorf("origin %s: err %v status %d", origin, err, status)
		}
	}
}

func TestReadLimit(t *testing.T) {
	pic := synced(1)
	_, url := newServer(t, pic, nil)
	c := dial(t, url)
	next(t, c)
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"filter","districts":["`+strings.Repeat("a", 10000)+`"]}`))
	for {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := c.ReadMessage(); err != nil {
			if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != websocket.CloseMessageTooBig {
				t.Fatalf("oversized frame: %v; want close 1009", err)
			}
			return
		}
	}
}

// TestManyClientsAllReceiveADelta: 10,000 clients (as many as the
// open-file limit allows, at least 2,000; 500 with -short), each in the
// fleet process, all receive one alert.
func TestManyClientsAllReceiveADelta(t *testing.T) {
	want := 10000
	if testing.Short() {
		want = 500
	}
	n := fleetSize(t, min(want, raceClients))
	if n < min(want, 2000) {
		t.Skipf("the open-file limit allows %d clients; this test needs at least 2,000 (raise the hard limit: ulimit -Hn)", n)
	}
	pic := synced(100)
	srv, url := newServer(t, pic, func(o *stream.Options) { o.MaxClients = n })
	before := heapInuse()
	f := startFleet(t, url, n)
	if c := srv.Clients(); c != n {
		t.Fatalf("%d clients connected, want %d", c, n)
	}
	// The server's heap for its idle clients (theirs is in the fleet).
	perClient := (float64(heapInuse()) - float64(before)) / float64(n)
	if perClient > maxHeapPerClient {
		t.Errorf("%.0f B of heap per idle client, want at most %d", perClient, maxHeapPerClient)
	}
	u := alertOn(1, alert.Critical)
	u.Alert.Count = 1
	u.Alert.Message = map[string]string{"vi": strconv.FormatInt(time.Now().UnixNano(), 10)}
	pic.Apply(u)
	f.wait(t, "round", 5*time.Minute) // written once all n clients have it
	_, _, maxWait, count := f.report(t)
	if count != n {
		t.Fatalf("%d deliveries, want %d", count, n)
	}
	t.Logf("%d clients all received the alert within %s; %.0f B of server heap per client", n, maxWait, perClient)
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime(t testing.TB) time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		t.Fatal(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// maxHeapPerClient is what an idle connected client may cost the server
// in heap: 10,000 clients in 120 MiB.
const maxHeapPerClient = 12 << 10

// heapInuse is the heap in use after two collections (the second empties
// the pools' victim caches).
func heapInuse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkFanOut: one delta to 1,000 and to 10,000 connected clients, end
// to end over loopback websockets, the clients in a child process. Each
// iteration applies one alert and waits until every client has decoded
// it. Reported besides time and allocations per delta:
//
//   - heap-B/client: the server process's HeapInuse with the clients
//     connected and idle (each has had its snapshot) minus before they
//     connected, after two collections (so that pooled buffers are
//     released), divided by the clients; the clients' own memory is in the
//     other process and not counted. stack-B/client likewise for
//     goroutine stacks.
//   - server-cpu-ms/op: the server process's CPU time (user and system)
//     per delta; unlike the latencies it hardly depends on what else the
//     machine runs.
//   - p50-ms, p99-ms, max-ms: over every client and every delta, the time
//     from just before the delta was applied to a client having decoded it.
func BenchmarkFanOut(b *testing.B) {
	for _, want := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("clients=%d", want), func(b *testing.B) {
			n := fleetSize(b, want)
			if n < want {
				b.Skipf("the open-file limit allows %d clients per process, %d wanted (raise the hard limit: ulimit -Hn)", n, want)
			}
			pic := synced(100)
			srv, url := newServer(b, pic, func(o *stream.Options) { o.MaxClients = n })
			var before, after runtime.MemStats
			gBefore := runtime.NumGoroutine()
			runtime.GC()
			runtime.GC()
			runtime.ReadMemStats(&before)
			f := startFleet(b, url, n)
			if c := srv.Clients(); c != n {
				b.Fatalf("%d clients connected, want %d", c, n)
			}
			runtime.GC()
			runtime.GC()
			runtime.ReadMemStats(&after)
			perClient := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
			heap := perClient(after.HeapInuse, before.HeapInuse)
			stack := perClient(after.StackInuse, before.StackInuse)
			goroutines := float64(runtime.NumGoroutine()-gBefore) / float64(n)

			b.ReportAllocs()
			cpu := cpuTime(b)
			round := 0
			for b.Loop() {
				round++
				u := alertOn(round%100, alert.Major)
				u.Alert.Count = round
				u.Alert.Message = map[string]string{"vi": strconv.FormatInt(time.Now().UnixNano(), 10)}
				pic.Apply(u)
				f.wait(b, "round", 5*time.Minute)
			}
			cpu = cpuTime(b) - cpu
			p50, p99, maxWait, _ := f.report(b)
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
			b.ReportMetric(heap, "heap-B/client")
			b.ReportMetric(stack, "stack-B/client")
			b.ReportMetric(goroutines, "goroutines/client")
			b.ReportMetric(ms(p50), "p50-ms")
			b.ReportMetric(ms(p99), "p99-ms")
			b.ReportMetric(ms(maxWait), "max-ms")
			b.ReportMetric(ms(cpu)/float64(round), "server-cpu-ms/op")
		})
	}
}

// TestPingThenDeltas: a ping reaches an idle client (the server pings
// every client each PingPeriod through PingAll), is answered, and deltas
// after it still arrive in order.
func TestPingThenDeltas(t *testing.T) {
	pic := synced(4)
	srv, url := newServer(t, pic, nil)
	c := dial(t, url)
	next(t, c)
	pings := make(chan struct{}, 4)
	c.SetPingHandler(func(data string) error {
		pings <- struct{}{}
		return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	frames := make(chan msg, 16)
	go func() {
		defer close(frames)
		for {
			var m msg
			if err := c.ReadJSON(&m); err != nil {
				return
			}
			frames <- m
		}
	}()
	for round := 1; round <= 2; round++ {
		srv.PingAll()
		select {
		case <-pings:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: no ping", round)
		}
		pic.Apply(alertOn(round, alert.Major))
		for {
			select {
			case m, ok := <-frames:
				if !ok {
					t.Fatalf("round %d: the stream ended", round)
				}
				if m.Type != "alert" {
					continue
				}
				if want := fmt.Sprintf("cam-%03d", round); m.Alert.Device != want {
					t.Fatalf("round %d: alert for %s, want %s", round, m.Alert.Device, want)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("round %d: no alert after the ping", round)
			}
			break
		}
	}
	if n := srv.Clients(); n != 1 {
		t.Fatalf("%d clients after the pings, want 1", n)
	}
}

// TestCloseSession: ending a session closes its connections at once, with
// close code 1008, and leaves other sessions' connections streaming.
func TestCloseSession(t *testing.T) {
	pic := synced(4)
	s, err := stream.New(pic, stream.DefaultOptions, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Serve(w, r, r.URL.Query().Get("session"))
	}))
	t.Cleanup(func() { s.Close(); hs.Close() })
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/?session="
	wall1, wall2, other := dial(t, url+"kiosk:a"), dial(t, url+"kiosk:a"), dial(t, url+"kiosk:b")
	for _, c := range []*websocket.Conn{wall1, wall2, other} {
		if m := next(t, c); m.Type != "snapshot" {
			t.Fatalf("first frame %s", m.Type)
		}
	}
	if n := s.CloseSession("kiosk:a"); n != 2 {
		t.Fatalf("CloseSession closed %d connections, want 2", n)
	}
	for _, c := range []*websocket.Conn{wall1, wall2} {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err := c.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || ce.Text != "session ended" {
			t.Errorf("ended session's connection: %v, want close 1008 \"session ended\"", err)
		}
	}
	pic.Apply(alertOn(1, alert.Major))
	if m := next(t, other); m.Type != "alert" {
		t.Errorf("another session's connection after the close: %s, want the alert", m.Type)
	}
	if n := s.CloseSession(""); n != 0 {
		t.Errorf("CloseSession(\"\") closed %d", n)
	}
}
