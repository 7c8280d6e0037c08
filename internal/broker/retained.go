package broker

// Retained lists the topics matching filter on which the broker holds a
// non-empty retained message.
func (b *Broker) Retained(filter string) []string {
	var topics []string
	for _, pk := range b.s.Topics.Messages(filter) {
		if len(pk.Payload) > 0 {
			topics = append(topics, pk.TopicName)
		}
	}
	return topics
}
