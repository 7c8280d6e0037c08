package broker

import (
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// DisconnectUsers closes the connections logged in as any of users (their
// account was removed or changed by a reload): MQTT 5 clients are told
// "not authorized" in a DISCONNECT first. Other connections are left
// alone. It returns how many it closed.
func (b *Broker) DisconnectUsers(users []string) int {
	if len(users) == 0 {
		return 0
	}
	gone := make(map[string]bool, len(users))
	for _, u := range users {
		gone[u] = true
	}
	n := 0
	for _, cl := range b.s.Clients.GetAll() {
		if cl.Net.Inline || cl.Closed() || !gone[string(cl.Properties.Username)] {
			continue
		}
		disconnect(b.s, cl)
		n++
	}
	return n
}

func disconnect(s *mqtt.Server, cl *mqtt.Client) {
	if cl.Properties.ProtocolVersion >= 5 {
		_ = s.DisconnectClient(cl, packets.ErrNotAuthorized)
		return
	}
	cl.Stop(packets.ErrNotAuthorized) // MQTT 3.1.1 has no server DISCONNECT
}
