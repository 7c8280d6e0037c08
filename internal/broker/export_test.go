package broker

// HasSession reports whether the broker holds a session (connected or
// not) for client id: tests wait on it instead of sleeping.
func (b *Broker) HasSession(id string) bool {
	_, ok := b.s.Clients.Get(id)
	return ok
}

// Connected reports whether client id has a live connection.
func (b *Broker) Connected(id string) bool {
	cl, ok := b.s.Clients.Get(id)
	return ok && !cl.Closed()
}

// Inflight is the number of client id's QoS 1 and 2 messages not yet
// acknowledged.
func (b *Broker) Inflight(id string) int {
	cl, ok := b.s.Clients.Get(id)
	if !ok {
		return 0
	}
	return cl.State.Inflight.Len()
}
