package broker

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/access"
	"github.com/ioc-vn/ioc/internal/registry"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// observed records what got past the broker's checks, with the account
// that sent it.
type observed struct {
	mqtt.HookBase
	mu  sync.Mutex
	got []sent
}

type sent struct{ user, topic, how string }

func (o *observed) ID() string { return "fuzz-observer" }

func (o *observed) Provides(b byte) bool { return b == mqtt.OnPublished || b == mqtt.OnWillSent }

func (o *observed) add(cl *mqtt.Client, topic, how string) {
	o.mu.Lock()
	o.got = append(o.got, sent{string(cl.Properties.Username), topic, how})
	o.mu.Unlock()
}

func (o *observed) OnPublished(cl *mqtt.Client, pk packets.Packet) {
	if !cl.Net.Inline {
		o.add(cl, pk.TopicName, "publish")
	}
}

func (o *observed) OnWillSent(cl *mqtt.Client, pk packets.Packet) {
	if pk.TopicName != "" { // a vetoed will goes nowhere
		o.add(cl, pk.TopicName, "will")
	}
}

func (o *observed) take() []sent {
	o.mu.Lock()
	defer o.mu.Unlock()
	g := o.got
	o.got = nil
	return g
}

var fuzzUsers = []string{"envsense", "vms-tn", "cam-bvtw-01", "ioc-server", "ioc-ingest", "nobody", ""}

// FuzzConnectPublish feeds CONNECT and PUBLISH flag and property
// combinations (will flag, topic, QoS and retain; publish topic, QoS,
// retain, MQTT 5 topic alias; client ids shared between accounts) through
// a real in-process broker over net.Pipe, and checks that nothing panics,
// nothing is published or sent as a will outside the account's topics, and
// no device topic is retained.
func FuzzConnectPublish(f *testing.F) {
	reg, err := registry.Load("../../configs/devices.yaml")
	if err != nil {
		f.Fatal(err)
	}
	policy, err := access.Load("../../configs/credentials.yaml", reg)
	if err != nil {
		f.Fatal(err)
	}
	obs := &observed{}
	var intakeMu sync.Mutex
	var intake []sent
	b, err := New(Config{Listen: "127.0.0.1:0"}, Deps{
		Log: slog.New(slog.DiscardHandler), IntakePrefix: "ioc/v1/", Access: policy,
		Intake: func(m *Message) {
			user := "(will)"
			if m.cl != nil {
				user = string(m.cl.Properties.Username)
			}
			intakeMu.Lock()
			intake = append(intake, sent{user, m.Topic(), "intake"})
			intakeMu.Unlock()
			m.Ack()
		},
	})
	if err != nil {
		f.Fatal(err)
	}
	if err := b.s.AddHook(obs, nil); err != nil {
		f.Fatal(err)
	}
	if err := b.Start(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { b.Close() })

	type seed struct {
		user                  byte
		passOK                bool
		id                    string
		v5, clean, will       bool
		willTopic             string
		willQos               byte
		willRetain            bool
		topic                 string
		qos                   byte
		retain                bool
		alias                 uint16
		payload               []byte
		secondTopic           string
		secondAlias           uint16
		secondRetain, dropped bool
	}
	for _, s := range []seed{
		{0, true, "gw", false, true, true, "ioc/server/v1/commands", 1, false, "ioc/v1/envsense/aq-tp-01/telemetry", 1, true, 0, []byte(`{"pm25":1}`), "", 0, false, true},
		{0, true, "gw", true, true, true, "ioc/v1/vms-tn/cam-bvtw-03/status", 1, true, "ioc/v1/envsense/ghost/telemetry", 1, true, 1, []byte(`{}`), "", 1, true, true},
		{1, true, "gw", true, false, true, "ioc/v1/vms-tn/cam-bvtw-01/status", 0, true, "ioc/server/v1/alerts/x/y", 1, true, 0, []byte("x"), "ioc/v1/vms-tn/a/status", 2, false, true},
		{2, true, "cam", false, true, true, "ioc/v1/vms-tn/cam-bvtw-02/status", 1, false, "ioc/v1/vms-tn/cam-bvtw-01/status", 1, false, 0, []byte(`{"state":"online"}`), "", 0, false, false},
		{3, true, "ioc-web-all-in-one", true, true, true, "ioc/server/v1/devices/x", 1, true, "ioc/server/v1/commands", 1, true, 3, []byte(`{"op":"ack"}`), "", 3, true, true},
		{4, false, "gw", false, true, false, "", 0, false, "ioc/v1/envsense/aq-tp-01/telemetry", 1, false, 0, nil, "", 0, false, true},
		{0, true, "x", true, true, true, "ioc/v1/envsense/+/status", 1, false, "$SYS/x", 0, true, 0, nil, "ioc/server/v1/#", 0, false, true},
		{1, true, "gw", false, true, true, "ioc/v1/vms-tn//", 0, true, "ioc/v1/vms-tn/", 1, false, 0, []byte("w"), "", 0, false, false},
	} {
		f.Add(s.user, s.passOK, s.id, s.v5, s.clean, s.will, s.willTopic, s.willQos, s.willRetain, s.topic, s.qos, s.retain, s.alias, s.payload,
			s.secondTopic, s.secondAlias, s.secondRetain, s.dropped)
	}
	f.Fuzz(func(t *testing.T, user byte, passOK bool, id string, v5, clean, will bool, willTopic string, willQos byte, willRetain bool,
		topic string, qos byte, retain bool, alias uint16, payload []byte, secondTopic string, secondAlias uint16, secondRetain, dropped bool) {
		name := fuzzUsers[int(user)%len(fuzzUsers)]
		pass := "demo-" + name
		if !passOK {
			pass = "wrong"
		}
		v := byte(4)
		if v5 {
			v = 5
		}
		connect := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: v, Connect: packets.ConnectParams{
			ProtocolName: []byte("MQTT"), ClientIdentifier: id, Clean: clean, Keepalive: 60,
			Username: []byte(name), UsernameFlag: name != "", Password: []byte(pass), PasswordFlag: true,
			WillFlag: will, WillTopic: willTopic, WillPayload: []byte("w"), WillQos: willQos % 3, WillRetain: willRetain,
		}}
		var hello, wire bytes.Buffer
		if connect.ConnectEncode(&hello) != nil {
			return
		}
		for i, p := range []struct {
			topic  string
			alias  uint16
			retain bool
		}{{topic, alias, retain}, {secondTopic, secondAlias, secondRetain}} {
			pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos % 3, Retain: p.retain}, ProtocolVersion: v,
				TopicName: p.topic, Payload: payload, PacketID: uint16(i + 1)}
			if v5 && p.alias > 0 {
				pk.Properties.TopicAlias, pk.Properties.TopicAliasFlag = p.alias%4, true
			}
			if pk.PublishEncode(&wire) != nil {
				return
			}
		}

		srv, cli := net.Pipe()
		done := make(chan error, 1)
		go func() { done <- b.s.EstablishConnection("fuzz", srv) }()
		answered := make(chan struct{})
		go func() {
			_, _ = cli.Read(make([]byte, 1))
			close(answered)
			_, _ = io.Copy(io.Discard, cli)
		}()
		cli.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, _ = cli.Write(hello.Bytes())
		// The publishes go after the CONNACK; closing earlier would fail the
		// CONNACK's write and end the connection before they are read.
		select {
		case <-answered:
		case <-time.After(10 * time.Second):
			t.Fatal("no CONNACK")
		}
		_, _ = cli.Write(wire.Bytes())
		if !dropped {
			var d bytes.Buffer
			(&packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}, ProtocolVersion: v}).DisconnectEncode(&d)
			_, _ = cli.Write(d.Bytes())
		}
		cli.Close()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("the broker did not finish the connection")
		}

		intakeMu.Lock()
		got := append(obs.take(), intake...)
		intake = nil
		intakeMu.Unlock()
		for _, s := range got {
			if s.user == "(will)" {
				continue // checked as OnWillSent with its account
			}
			a, ok := policy.Account(s.user)
			// A malformed topic under the account's own prefix reaches
			// ingest, which answers bad_topic on the account's _errors;
			// a will is held to the account's topics proper.
			if !ok || !(a.CanPublish(s.topic) || s.how != "will" && a.OwnsMalformed(s.topic)) {
				t.Errorf("%s by %q on %q got through (connect %+v)", s.how, s.user, s.topic, connect.Connect)
			}
		}
		for topic := range b.s.Topics.Retained.GetAll() {
			if strings.HasPrefix(topic, "ioc/v1/") {
				t.Errorf("device topic %q retained", topic)
			}
		}
	})
}
