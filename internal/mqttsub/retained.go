package mqttsub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Retained lists the topics under filters on which the broker holds a
// non-empty retained message. It subscribes to filters and to marker (a
// topic only this client uses), publishes a random token to marker and
// waits for it to come back: a broker sends a subscription's retained
// messages before it routes the client's next publish, so by then the list
// is complete. The subscriptions are removed before it returns. Call it
// while connected (an OnConnect function).
func (cl *Client) Retained(ctx context.Context, filters []string, marker string) ([]string, error) {
	msgs, err := cl.RetainedMessages(ctx, filters, marker)
	if err != nil {
		return nil, err
	}
	topics := make([]string, 0, len(msgs))
	for t := range msgs {
		topics = append(topics, t)
	}
	return topics, nil
}

// RetainedMessages is Retained with each topic's retained payload.
func (cl *Client) RetainedMessages(ctx context.Context, filters []string, marker string) (map[string][]byte, error) {
	var token [12]byte
	if _, err := rand.Read(token[:]); err != nil {
		return nil, err
	}
	want := hex.EncodeToString(token[:])
	var (
		mu     sync.Mutex
		topics = map[string][]byte{}
		done   = make(chan struct{})
		once   sync.Once
	)
	collect := func(_ paho.Client, m paho.Message) {
		defer m.Ack()
		if m.Retained() && len(m.Payload()) > 0 {
			mu.Lock()
			topics[m.Topic()] = append([]byte(nil), m.Payload()...)
			mu.Unlock()
		}
	}
	subs := map[string]byte{marker: 1}
	for _, f := range filters {
		subs[f] = 1
	}
	unsubscribe := func() {
		names := make([]string, 0, len(subs))
		for f := range subs {
			names = append(names, f)
		}
		cl.c.Unsubscribe(names...) // best effort: the next connect lists again
	}
	tok := cl.c.SubscribeMultiple(subs, func(c paho.Client, m paho.Message) {
		if m.Topic() == marker {
			defer m.Ack()
			if string(m.Payload()) == want {
				once.Do(func() { close(done) })
			}
			return
		}
		collect(c, m)
	})
	if err := wait(ctx, tok); err != nil {
		unsubscribe()
		return nil, fmt.Errorf("mqtt: subscribe to list retained %v: %w", filters, err)
	}
	defer unsubscribe()
	if err := wait(ctx, cl.c.Publish(marker, 1, false, want)); err != nil {
		return nil, fmt.Errorf("mqtt: publish marker %s: %w", marker, err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		return nil, fmt.Errorf("mqtt: listing retained %v: the marker did not come back: %w", filters, ctx.Err())
	}
	mu.Lock()
	defer mu.Unlock()
	return topics, nil
}

func wait(ctx context.Context, tok paho.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}
