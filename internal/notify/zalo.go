package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Zalo sends customer-service text messages from a Zalo Official Account
// (Official Account API v3: POST <base>/v3.0/oa/message/cs with the OA's
// token in the access_token header, body {"recipient": {"user_id"},
// "message": {"text", "quote_message_id"}}). An update quotes the
// incident's first message. Zalo answers HTTP 200 with
// {"error": <code>, "message", "data": {"message_id", "user_id"}}: error 0
// is sent; the codes below are Zalo's documented ones.
type Zalo struct {
	base, token string
	hc          *http.Client
}

var _ Channel = (*Zalo)(nil)

// NewZalo returns a Zalo OA channel; base "" is https://openapi.zalo.me.
func NewZalo(base, token string, hc *http.Client) *Zalo {
	if base == "" {
		base = "https://openapi.zalo.me"
	}
	return &Zalo{base: strings.TrimRight(base, "/"), token: token, hc: hc}
}

// Zalo's error codes the channel treats apart.
const (
	zaloRateLimited   = -32  // the app exceeded its requests per minute
	zaloBadParameter  = -201 // a parameter is invalid
	zaloNotFollower   = -213 // the user does not follow the OA
	zaloBadToken      = -216 // the access token is invalid
	zaloTokenExpired  = -124 // the access token has expired
	zaloNoInteraction = -230 // the user has not interacted with the OA in 7 days
)

// zaloMax bounds a text message, in characters.
const zaloMax = 2000

// zaloRateWait is how long to wait after -32: Zalo counts per minute and
// says nothing more precise.
const zaloRateWait = time.Minute

// Send sends m to the Zalo user id to (the id the OA sees for a follower).
func (z *Zalo) Send(ctx context.Context, to string, m *Message) (string, error) {
	text := m.Text
	if r := []rune(text); len(r) > zaloMax {
		text = string(r[:zaloMax-1]) + "…"
	}
	var req struct {
		Recipient struct {
			UserID string `json:"user_id"`
		} `json:"recipient"`
		Message struct {
			Text  string `json:"text"`
			Quote string `json:"quote_message_id,omitempty"`
		} `json:"message"`
	}
	req.Recipient.UserID, req.Message.Text, req.Message.Quote = to, text, m.ReplyTo
	resp, raw, err := postJSON(ctx, z.hc, z.base+"/v3.0/oa/message/cs", map[string]string{"access_token": z.token}, &req)
	if err != nil {
		return "", fmt.Errorf("zalo: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", httpError(resp, raw)
	}
	var a struct {
		Error   int    `json:"error"`
		Message string `json:"message"`
		Data    struct {
			MessageID string `json:"message_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return "", fmt.Errorf("zalo: answer is not the OA API's JSON: %w", err)
	}
	if a.Error == 0 {
		return a.Data.MessageID, nil
	}
	err = fmt.Errorf("zalo: error %d: %s", a.Error, a.Message)
	switch a.Error {
	case zaloRateLimited:
		return "", &RateLimited{After: zaloRateWait, Err: err}
	case zaloBadToken, zaloTokenExpired:
		return "", Permanent(fmt.Errorf("%w (renew the OA's access token)", err))
	case zaloNotFollower, zaloNoInteraction:
		return "", Permanent(fmt.Errorf("%w (the recipient must follow the OA and have written to it within 7 days)", err))
	case zaloBadParameter:
		return "", Permanent(err)
	}
	return "", err
}
