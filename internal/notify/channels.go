package notify

import (
	"fmt"
	"net/http"
	"time"
)

// channelType builds one kind of channel from its configuration.
type channelType struct {
	check func(c *ChannelConfig) error
	make  func(c *ChannelConfig, hc *http.Client) Channel
}

// channelTypes are the channel kinds a configuration may name. A province
// adds its own (an SMS gateway) with one file implementing Channel and one
// line here.
var channelTypes = map[string]channelType{
	"webhook":  {checkWebhook, func(c *ChannelConfig, hc *http.Client) Channel { return NewWebhook(c.URL, c.Secret, hc) }},
	"smtp":     {checkSMTP, func(c *ChannelConfig, _ *http.Client) Channel { return newSMTPFromConfig(c) }},
	"telegram": {checkToken(func(c *ChannelConfig) string { return c.Token }, "token"), func(c *ChannelConfig, hc *http.Client) Channel { return NewTelegram(c.URL, c.Token, hc) }},
	"zalo":     {checkToken(func(c *ChannelConfig) string { return c.AccessToken }, "access_token"), func(c *ChannelConfig, hc *http.Client) Channel { return NewZalo(c.URL, c.AccessToken, hc) }},
}

func checkToken(get func(*ChannelConfig) string, key string) func(c *ChannelConfig) error {
	return func(c *ChannelConfig) error {
		if get(c) == "" {
			return fmt.Errorf("%s is needed", key)
		}
		return nil
	}
}

// newChannels builds the configured channels.
func newChannels(cs map[string]ChannelConfig, now func() time.Time) (map[string]Channel, error) {
	out := make(map[string]Channel, len(cs))
	for name, c := range cs {
		t, ok := channelTypes[c.Type]
		if !ok {
			return nil, fmt.Errorf("notify: channels.%s: unknown type %q", name, c.Type)
		}
		ch := t.make(&c, &http.Client{Timeout: c.Timeout})
		if w, ok := ch.(*Webhook); ok {
			w.now = now // the signature's timestamp is on the service's clock
		}
		out[name] = ch
	}
	return out, nil
}
