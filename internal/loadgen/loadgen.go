// Package loadgen plays many devices publishing through the real MQTT
// contract, for load tests and the bench command: a numbered stream of
// mixed-format telemetry, each message carrying a unique seq so a run can
// check that every message was stored exactly once.
package loadgen

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/mqttsub"
)

// Integrator owns the generated devices.
const Integrator = "bench"

// DeviceID is the id of generated device d.
func DeviceID(d int) string { return fmt.Sprintf("dev-%05d", d) }

// RegistryYAML is a device registry of n sensors owned by Integrator, plus
// other-01 owned by another integrator.
func RegistryYAML(n int) string {
	var b strings.Builder
	b.WriteString("province: Bench\ndistricts: [{id: d1, name: D1}, {id: d2, name: D2}]\n")
	fmt.Fprintf(&b, "integrators: [{id: %s, name: Bench}, {id: other, name: Other}]\ndevices:\n", Integrator)
	for i := range n {
		fmt.Fprintf(&b, "  - {id: %s, kind: sensor, name: \"Cảm biến %d\", district: d%d, integrator: %s, lat: 21.5, lon: 105.8}\n", DeviceID(i), i, i%2+1, Integrator)
	}
	b.WriteString("  - {id: other-01, kind: sensor, name: Other, district: d1, integrator: other, lat: 21.5, lon: 105.8}\n")
	// What Message sends besides floats.
	b.WriteString("fields:\n  sensor:\n    telemetry: {ok: bool}\n    bench: {seq: int, count: int}\n")
	return b.String()
}

// Message returns message i of the stream: JSON, SenML and line protocol in
// turn, from device i%devices, at base + i ms. withoutTS leaves the time to
// the server (a JSON object without ts).
func Message(i, devices int, base time.Time, withoutTS bool) (topic string, body []byte) {
	topic = contract.DeviceTopic(Integrator, DeviceID(i%devices), "telemetry")
	at := base.Add(time.Duration(i) * time.Millisecond)
	switch {
	case withoutTS:
		body = fmt.Appendf(nil, `{"seq": %d, "pm25": %d.5}`, i, i%300)
	case i%3 == 0:
		body = fmt.Appendf(nil, `{"ts": %d, "seq": %d, "pm25": %d.5, "ok": true}`, at.UnixMilli(), i, i%300)
	case i%3 == 1:
		body = fmt.Appendf(nil, `[{"bt": %.3f, "n": "seq", "v": %d}, {"n": "water_level_cm", "v": %d}]`, float64(at.UnixMilli())/1000, i, 100+i%50)
	default:
		body = fmt.Appendf(nil, "bench,src=lp seq=%di,count=%di %d", i, i%1000, at.UnixNano())
	}
	return topic, body
}

// Connect opens a device-side client with a clean session.
func Connect(ctx context.Context, url, id string) (paho.Client, error) {
	o := paho.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(true).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond).
		SetMaxReconnectInterval(time.Second).SetWriteTimeout(10 * time.Second).
		SetCustomOpenConnectionFn(mqttsub.Dialer(nil)) // a cheap publisher leaves the cores to the system under test
	c := paho.NewClient(o)
	tok := c.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return nil, fmt.Errorf("connect %s: %w", url, err)
		}
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Plan is a publishing run.
type Plan struct {
	From, To  int            // message numbers [From, To)
	Devices   int            // devices the messages spread over
	Base      time.Time      // time of message 0
	Rate      int            // total messages per second; 0 is as fast as PUBACKs come
	WithoutTS func(int) bool // which messages carry no ts (nil: none)
	Window    int            // unacknowledged publishes per client (default 500)
	// ContinueOnError keeps publishing when a publish fails. For clients
	// with a persistent session: paho keeps a publish whose connection
	// dropped and resends it (same packet id, DUP) after reconnecting, so
	// the run goes on and the caller checks what was stored.
	ContinueOnError bool
}

// Publish runs p over clients, splitting the range between them, and
// returns once every message has its PUBACK or ctx ends.
func Publish(ctx context.Context, clients []paho.Client, p Plan) error {
	if p.Window <= 0 {
		p.Window = 500
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	per := (p.To - p.From + len(clients) - 1) / len(clients)
	start := time.Now()
	for ci, c := range clients {
		lo, hi := p.From+ci*per, min(p.From+(ci+1)*per, p.To)
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks := make([]paho.Token, 0, p.Window)
			for i := lo; i < hi && ctx.Err() == nil; i++ {
				if p.Rate > 0 {
					due := start.Add(time.Duration(float64(i-p.From) / float64(p.Rate) * float64(time.Second)))
					if d := time.Until(due); d > 0 {
						time.Sleep(d)
					}
				}
				topic, body := Message(i, p.Devices, p.Base, p.WithoutTS != nil && p.WithoutTS(i))
				toks = append(toks, c.Publish(topic, 1, false, body))
				if len(toks) == cap(toks) {
					if err := wait(ctx, toks); err != nil && (!p.ContinueOnError || ctx.Err() != nil) {
						mu.Lock()
						firstErr = cmpErr(firstErr, err)
						mu.Unlock()
						return
					}
					toks = toks[:0]
				}
			}
			if err := wait(ctx, toks); err != nil && (!p.ContinueOnError || ctx.Err() != nil) {
				mu.Lock()
				firstErr = cmpErr(firstErr, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// wait waits for every token and returns the first error among them.
func wait(ctx context.Context, toks []paho.Token) error {
	var first error
	for _, tok := range toks {
		select {
		case <-tok.Done():
			if err := tok.Error(); err != nil && first == nil {
				first = fmt.Errorf("publish: %w", err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return first
}
