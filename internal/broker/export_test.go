package broker

// HasSession reports whether the broker holds a session (connected or
// not) for client id: tests wait on it instead of sleeping.
func (b *Broker) HasSession(id string) bool {
	_, ok := b.s.Clients.Get(id)
	return ok
}
