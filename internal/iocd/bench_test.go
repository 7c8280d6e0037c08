package iocd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/loadgen"
	"github.com/ioc-vn/ioc/internal/quota"
)

// BenchmarkPublishToWebsocket measures the IOC server's own path: a
// message published on a server topic (as the alert service does) until a
// websocket client holds it, while ingest stores 10,000 device messages a
// second through the same broker. b.N is the number of probes, sent 100 a
// second; p50 and p99 are reported.
//
//	go test -run '^$' -bench PublishToWebsocket -benchtime 2000x ./internal/iocd/
func BenchmarkPublishToWebsocket(b *testing.B) {
	const devices, rate = 1000, 10000
	dir := b.TempDir()
	reg := filepath.Join(dir, "devices.yaml")
	if err := os.WriteFile(reg, []byte(loadgen.RegistryYAML(devices)), 0o644); err != nil {
		b.Fatal(err)
	}
	sys := startIngest(b, func(c *ingestd.Config) {
		c.Registry = reg
		c.Broker.AllowAnonymous = true // the load generator's devices
		c.Quotas = quota.Config{}
		c.Log.Level = "error"
	})
	ic := iocConfig(b, sys, "bench")
	ic.Registry = reg
	ic.Auth.Teams = nil // they name the province's districts, not the bench's
	base := startIOC(b, ic)
	ws, err := login(b, base, "viewer").dial("")
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()

	// Load: 10,000 messages a second from 1,000 devices over 4 clients.
	loadCtx, stopLoad := context.WithCancel(context.Background())
	var loadWG sync.WaitGroup
	var clients []paho.Client
	for i := 0; i < 4; i++ {
		cl, err := loadgen.Connect(loadCtx, sys.Broker, fmt.Sprintf("bench-load-%d", i))
		if err != nil {
			b.Fatal(err)
		}
		clients = append(clients, cl)
	}
	// One plan per client: Publish splits a range into contiguous parts,
	// and a part far in the future would sleep through the run.
	for i, cl := range clients {
		loadWG.Add(1)
		go func() {
			defer loadWG.Done()
			n := rate / len(clients) * 600 // ten minutes at most
			// Message m is stamped Base + m ms, ten times faster than it
			// is sent: starting each part a day back keeps every stamp
			// inside the accepted window (30 days back, 10 min ahead)
			// for hours, so the load is stored, not refused.
			base := time.Now().Add(-24*time.Hour - time.Duration(i*n)*time.Millisecond)
			_ = loadgen.Publish(loadCtx, []paho.Client{cl}, loadgen.Plan{From: i * n, To: (i + 1) * n, Devices: devices, Base: base, Rate: rate / len(clients)})
		}()
	}
	defer func() {
		stopLoad()
		loadWG.Wait()
		for _, cl := range clients {
			cl.Disconnect(0)
		}
	}()

	probe := paho.NewClient(paho.NewClientOptions().AddBroker(sys.Broker).SetClientID("bench-probe").
		SetUsername("ioc-ingest").SetPassword("demo-ioc-ingest").SetCleanSession(true))
	if tok := probe.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("probe: %v", tok.Error())
	}
	defer probe.Disconnect(0)
	type probeMsg struct {
		Type   string               `json:"type"`
		Device contract.DeviceState `json:"device"`
	}
	lat := make([]time.Duration, 0, b.N)
	recv := make(chan struct{}, 1)
	var mu sync.Mutex
	go func() {
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			now := time.Now()
			var m probeMsg
			if json.Unmarshal(data, &m) != nil || m.Type != "device" || m.Device.ID != "probe" {
				continue
			}
			mu.Lock()
			lat = append(lat, now.Sub(m.Device.UpdatedAt))
			mu.Unlock()
			select {
			case recv <- struct{}{}:
			default:
			}
		}
	}()
	time.Sleep(2 * time.Second) // load running
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st := contract.DeviceState{ID: "probe", Name: "probe", Kind: "sensor", District: "d1", Status: "online", Health: "ok", Alerts: []string{}, UpdatedAt: time.Now()}
		body, _ := json.Marshal(st)
		tok := probe.Publish(contract.DevicesPrefix+"probe", 1, false, body)
		tok.Wait()
		select {
		case <-recv:
		case <-time.After(5 * time.Second):
			b.Fatalf("probe %d not delivered in 5s", i)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
}
