package broker

import (
	"slices"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

func TestOrderInflight(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ids     []uint16 // in the order they were queued
		created int64    // the second all were queued
	}{
		{"one second", []uint16{7, 8, 9, 10, 11}, 1_780_000_000},
		{"ids wrapped", []uint16{65534, 65535, 1, 2}, 1_780_000_000},
		{"second near a uint16 boundary", []uint16{3, 4, 5}, 1<<32 + 1},
		{"with gaps", []uint16{100, 103, 104, 900}, 1_780_000_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := mqtt.NewInflights()
			for _, id := range tc.ids {
				in.Set(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, PacketID: id, Created: tc.created})
			}
			orderInflight(in)
			var got []uint16
			for _, pk := range in.GetAll(false) {
				got = append(got, pk.PacketID)
				if pk.Created > tc.created || pk.Created < tc.created-int64(2*len(tc.ids)) {
					t.Errorf("packet %d: Created %d moved more than a few seconds back from %d", pk.PacketID, pk.Created, tc.created)
				}
			}
			if !slices.Equal(got, tc.ids) {
				t.Errorf("resend order %v, want the queue order %v", got, tc.ids)
			}
		})
	}
}
