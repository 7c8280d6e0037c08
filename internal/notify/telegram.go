package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Telegram sends through the Bot API's sendMessage
// (https://core.telegram.org/bots/api#sendmessage): POST
// <base>/bot<token>/sendMessage with chat_id and text; an update replies to
// the incident's first message (reply_parameters.message_id, which
// replaced reply_to_message_id in Bot API 7.0; allow_sending_without_reply
// so a deleted first message does not block it). Every answer is
// {"ok", "result" | "error_code", "description", "parameters"}; 429
// carries parameters.retry_after in seconds, which the sender waits.
type Telegram struct {
	base, token string
	hc          *http.Client
}

var _ Channel = (*Telegram)(nil)

// NewTelegram returns a Telegram channel; base "" is https://api.telegram.org.
func NewTelegram(base, token string, hc *http.Client) *Telegram {
	if base == "" {
		base = "https://api.telegram.org"
	}
	return &Telegram{base: strings.TrimRight(base, "/"), token: token, hc: hc}
}

// telegramMax is sendMessage's limit on text, in characters.
const telegramMax = 4096

type telegramReply struct {
	MessageID                int64 `json:"message_id"`
	AllowSendingWithoutReply bool  `json:"allow_sending_without_reply"`
}

type telegramAnswer struct {
	OK          bool   `json:"ok"`
	ErrorCode   int    `json:"error_code"`
	Description string `json:"description"`
	Result      struct {
		MessageID int64 `json:"message_id"`
	} `json:"result"`
	Parameters struct {
		RetryAfter      int   `json:"retry_after"`
		MigrateToChatID int64 `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

// Send sends m to the chat to (a chat id, or @channelusername).
func (t *Telegram) Send(ctx context.Context, to string, m *Message) (string, error) {
	text := m.Text
	if r := []rune(text); len(r) > telegramMax {
		text = string(r[:telegramMax-1]) + "…"
	}
	req := struct {
		ChatID          string         `json:"chat_id"`
		Text            string         `json:"text"`
		ReplyParameters *telegramReply `json:"reply_parameters,omitempty"`
	}{ChatID: to, Text: text}
	if m.ReplyTo != "" {
		if id, err := strconv.ParseInt(m.ReplyTo, 10, 64); err == nil {
			req.ReplyParameters = &telegramReply{MessageID: id, AllowSendingWithoutReply: true}
		}
	}
	resp, raw, err := postJSON(ctx, t.hc, t.base+"/bot"+t.token+"/sendMessage", nil, req)
	if err != nil {
		return "", fmt.Errorf("telegram sendMessage: %w", err)
	}
	var a telegramAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		if resp.StatusCode >= 500 {
			return "", fmt.Errorf("telegram: %s", resp.Status)
		}
		return "", fmt.Errorf("telegram: %s: answer is not the Bot API's JSON", resp.Status)
	}
	if a.OK {
		return strconv.FormatInt(a.Result.MessageID, 10), nil
	}
	err = fmt.Errorf("telegram: %d %s", a.ErrorCode, a.Description)
	switch {
	case a.ErrorCode == http.StatusTooManyRequests:
		return "", &RateLimited{After: time.Duration(max(a.Parameters.RetryAfter, 1)) * time.Second, Err: err}
	case a.Parameters.MigrateToChatID != 0:
		return "", Permanent(fmt.Errorf("%w: the group became a supergroup; set the recipient's to: %d", err, a.Parameters.MigrateToChatID))
	case a.ErrorCode >= 500 || a.ErrorCode == 0:
		return "", err
	}
	return "", Permanent(err) // 400 chat not found, 401 bad token, 403 bot blocked
}
