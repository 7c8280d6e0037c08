package broker

import (
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// packetIDHook keeps the client's packet identifiers apart from the
// broker's. MQTT gives each side its own (MQTT-2.2.1: "the Client and
// Server assign Packet Identifiers independently of each other"), but
// mochi answers a SUBSCRIBE or UNSUBSCRIBE whose id equals one of the
// broker's own unacknowledged PUBLISHes to that client with 0x91 "packet
// identifier in use". That is what a persistent subscriber meets when it
// comes back: the broker resends its queued messages under ids 1, 2, …
// and the client, starting afresh, subscribes with id 1.
//
// When such a packet is read, the hook sets the broker's message with
// that id aside while mochi checks and serves the packet, and puts it
// back right after (OnSubscribed, OnUnsubscribed), so the message is
// still acknowledged and resent as before. The client's lock is held
// meanwhile: the broker cannot give the id to another message (mochi's
// NextPacketID takes the same lock). A packet mochi will refuse before
// serving (a malformed SUBSCRIBE) is left alone. A client's own QoS 2
// publish awaiting PUBREL (held as a PUBREC) is in the client's id space,
// and its id stays in use.
type packetIDHook struct {
	mqtt.HookBase
	mu    sync.Mutex
	aside map[*mqtt.Client]packets.Packet
}

func newPacketIDHook() *packetIDHook {
	return &packetIDHook{aside: map[*mqtt.Client]packets.Packet{}}
}

func (h *packetIDHook) ID() string { return "ioc-packet-ids" }

func (h *packetIDHook) Provides(b byte) bool {
	return b == mqtt.OnPacketRead || b == mqtt.OnSubscribed || b == mqtt.OnUnsubscribed
}

// sentByBroker reports whether an in-flight packet is the broker's own
// PUBLISH to the client, awaiting PUBACK, PUBREC or PUBCOMP.
func sentByBroker(pk packets.Packet) bool {
	return pk.FixedHeader.Type == packets.Publish || pk.FixedHeader.Type == packets.Pubrel
}

func (h *packetIDHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	switch pk.FixedHeader.Type {
	case packets.Subscribe:
		if pk.SubscribeValidate() != packets.CodeSuccess {
			return pk, nil // refused before it is served: nothing to restore after
		}
	case packets.Unsubscribe:
		if pk.UnsubscribeValidate() != packets.CodeSuccess {
			return pk, nil
		}
	default:
		return pk, nil
	}
	if out, ok := cl.State.Inflight.Get(pk.PacketID); !ok || !sentByBroker(out) {
		return pk, nil
	}
	cl.Lock() // released in restore, once mochi has served the packet
	out, ok := cl.State.Inflight.Get(pk.PacketID)
	if !ok || !sentByBroker(out) {
		cl.Unlock()
		return pk, nil
	}
	cl.State.Inflight.Delete(pk.PacketID)
	h.mu.Lock()
	h.aside[cl] = out
	h.mu.Unlock()
	return pk, nil
}

func (h *packetIDHook) OnSubscribed(cl *mqtt.Client, _ packets.Packet, _ []byte) { h.restore(cl) }

func (h *packetIDHook) OnUnsubscribed(cl *mqtt.Client, _ packets.Packet) { h.restore(cl) }

// restore puts back the message set aside for cl, if any.
func (h *packetIDHook) restore(cl *mqtt.Client) {
	h.mu.Lock()
	out, ok := h.aside[cl]
	delete(h.aside, cl)
	h.mu.Unlock()
	if !ok {
		return
	}
	cl.State.Inflight.Set(out)
	cl.Unlock()
}
