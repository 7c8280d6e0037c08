package ingest

import (
	"fmt"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/registry"
)

type benchMsg struct {
	topic string
	body  []byte
}

func (m *benchMsg) Topic() string     { return m.topic }
func (m *benchMsg) Payload() []byte   { return m.body }
func (m *benchMsg) MessageID() uint16 { return 1 }
func (m *benchMsg) Duplicate() bool   { return false }
func (m *benchMsg) Ack()              {}

// BenchmarkAdd is the batcher's cost per message: topic, registry lookup,
// parse and tagging, with 10,000 registered devices.
func BenchmarkAdd(b *testing.B) {
	f := registry.File{Districts: []registry.District{{ID: "d1", Name: "D"}}, Integrators: []registry.Integrator{{ID: "bench", Name: "B"}}}
	for i := range 10000 {
		f.Devices = append(f.Devices, registry.Device{ID: fmt.Sprintf("dev-%05d", i), Kind: registry.Sensor, Name: fmt.Sprintf("Cảm biến %d", i), District: "d1", Integrator: "bench"})
	}
	reg, err := registry.New(f)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	p, err := New(Options{}, Deps{Store: discard{}, Registry: reg, Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	msgs := make([]*benchMsg, 1000)
	for i := range msgs {
		msgs[i] = &benchMsg{
			topic: fmt.Sprintf("ioc/v1/bench/dev-%05d/telemetry", i*7),
			body:  fmt.Appendf(nil, `{"ts": %d, "seq": %d, "pm25": 35.2, "ok": true}`, now.UnixMilli(), i),
		}
	}
	bt := p.newBatch()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p.add(bt, msgs[i%len(msgs)])
		i++
		if len(bt.msgs) == 5000 {
			p.recycle(bt)
			bt = p.newBatch()
		}
	}
}
