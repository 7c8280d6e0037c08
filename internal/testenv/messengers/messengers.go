// Package messengers runs local stand-ins for the Telegram Bot API and the
// Zalo Official Account API in tests: the same URLs, fields, answers,
// error codes and rate-limit answers as each provider documents, on a free
// loopback port (apart from testenv, so that the commands linking testenv
// do not link them).
package messengers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
)

// Telegram answers sendMessage as the Bot API documents it
// (https://core.telegram.org/bots/api#making-requests,
// #sendmessage, #replyparameters, #responseparameters): POST
// /bot<token>/sendMessage with JSON, every answer
// {"ok", "result" | "error_code", "description", "parameters"}; HTTP 429
// with parameters.retry_after while RateLimit is above zero; 401 for
// another token; 400 "chat not found" for a chat other than Chat.
type Telegram struct {
	URL   string // base address: pass as the channel's url
	Token string
	Chat  string // the one chat id that exists

	mu        sync.Mutex
	rateLimit int
	retry     int
	next      int64
	got       []TelegramMessage
	limited   int
}

// TelegramMessage is one accepted sendMessage.
type TelegramMessage struct {
	MessageID int64
	ChatID    string
	Text      string
	// ReplyTo is reply_parameters.message_id (0: none); AllowWithout is
	// its allow_sending_without_reply.
	ReplyTo      int64
	AllowWithout bool
}

// StartTelegram starts a Bot API stand-in for the bot token with the one
// chat; it stops when the test ends.
func StartTelegram(t testing.TB, token, chat string) *Telegram {
	s := &Telegram{Token: token, Chat: chat, next: 100}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// RateLimit makes the next n requests answer 429 with retry_after seconds.
func (s *Telegram) RateLimit(n, retryAfter int) {
	s.mu.Lock()
	s.rateLimit, s.retry = n, retryAfter
	s.mu.Unlock()
}

// Limited is how many 429 answers were given.
func (s *Telegram) Limited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limited
}

// Messages are the accepted messages, in order.
func (s *Telegram) Messages() []TelegramMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]TelegramMessage(nil), s.got...)
}

func (s *Telegram) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	answer := func(code int, body string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		w.Write([]byte(body))
	}
	switch {
	case r.URL.Path != "/bot"+s.Token+"/sendMessage" && r.URL.Path != "/bot"+s.Token+"/sendmessage":
		if len(r.URL.Path) > 4 && r.URL.Path[:4] == "/bot" {
			answer(http.StatusUnauthorized, `{"ok":false,"error_code":401,"description":"Unauthorized"}`)
			return
		}
		answer(http.StatusNotFound, `{"ok":false,"error_code":404,"description":"Not Found"}`)
		return
	case r.Method != http.MethodPost && r.Method != http.MethodGet:
		answer(http.StatusBadRequest, `{"ok":false,"error_code":400,"description":"Bad Request: unsupported method"}`)
		return
	}
	var req struct {
		ChatID          json.RawMessage `json:"chat_id"`
		Text            string          `json:"text"`
		ReplyParameters *struct {
			MessageID                int64 `json:"message_id"`
			AllowSendingWithoutReply bool  `json:"allow_sending_without_reply"`
		} `json:"reply_parameters"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		answer(http.StatusBadRequest, `{"ok":false,"error_code":400,"description":"Bad Request: can't parse JSON"}`)
		return
	}
	chat := string(req.ChatID)
	if s, err := strconv.Unquote(chat); err == nil {
		chat = s
	}
	switch {
	case chat == "":
		answer(http.StatusBadRequest, `{"ok":false,"error_code":400,"description":"Bad Request: chat_id is empty"}`)
		return
	case req.Text == "":
		answer(http.StatusBadRequest, `{"ok":false,"error_code":400,"description":"Bad Request: message text is empty"}`)
		return
	case len([]rune(req.Text)) > 4096:
		answer(http.StatusBadRequest, `{"ok":false,"error_code":400,"description":"Bad Request: message is too long"}`)
		return
	case s.rateLimit > 0:
		s.rateLimit--
		s.limited++
		answer(http.StatusTooManyRequests, fmt.Sprintf(`{"ok":false,"error_code":429,"description":"Too Many Requests: retry after %d","parameters":{"retry_after":%d}}`, s.retry, s.retry))
		return
	case chat != s.Chat:
		answer(http.StatusBadRequest, `{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`)
		return
	}
	m := TelegramMessage{ChatID: chat, Text: req.Text}
	if p := req.ReplyParameters; p != nil {
		m.ReplyTo, m.AllowWithout = p.MessageID, p.AllowSendingWithoutReply
		found := false
		for _, g := range s.got {
			found = found || g.MessageID == p.MessageID
		}
		if !found && !p.AllowSendingWithoutReply {
			answer(http.StatusBadRequest, `{"ok":false,"error_code":400,"description":"Bad Request: message to be replied not found"}`)
			return
		}
	}
	s.next++
	m.MessageID = s.next
	s.got = append(s.got, m)
	text, _ := json.Marshal(req.Text)
	answer(http.StatusOK, fmt.Sprintf(`{"ok":true,"result":{"message_id":%d,"from":{"id":1,"is_bot":true,"first_name":"IOC"},"chat":{"id":%s,"type":"supergroup"},"date":1778225400,"text":%s}}`, m.MessageID, chat, text))
}

// Zalo answers POST /v3.0/oa/message/cs as the Zalo Official Account API
// v3 documents it (developers.zalo.me, "Gửi tin Tư vấn"): the OA's token
// in the access_token header, body {"recipient": {"user_id"}, "message":
// {"text", "quote_message_id"}}, HTTP 200 with {"error": code, "message",
// "data": {"message_id", "user_id"}}. Errors: -216 another token, -201 an
// invalid body, -32 (requests per minute) while RateLimit is above zero,
// -213 a user who does not follow the OA.
type Zalo struct {
	URL      string
	Token    string
	Follower string // the one user id that follows the OA

	mu        sync.Mutex
	rateLimit int
	limited   int
	got       []ZaloMessage
}

// ZaloMessage is one accepted message.
type ZaloMessage struct {
	MessageID string
	UserID    string
	Text      string
	Quote     string // quote_message_id
}

// StartZalo starts an OA API stand-in; it stops when the test ends.
func StartZalo(t testing.TB, token, follower string) *Zalo {
	s := &Zalo{Token: token, Follower: follower}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// RateLimit makes the next n requests answer -32.
func (s *Zalo) RateLimit(n int) {
	s.mu.Lock()
	s.rateLimit = n
	s.mu.Unlock()
}

// Limited is how many -32 answers were given.
func (s *Zalo) Limited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limited
}

// Messages are the accepted messages, in order.
func (s *Zalo) Messages() []ZaloMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ZaloMessage(nil), s.got...)
}

func (s *Zalo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path != "/v3.0/oa/message/cs" || r.Method != http.MethodPost {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	answer := func(body string) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body))
	}
	if r.Header.Get("access_token") != s.Token {
		answer(`{"error":-216,"message":"Access token is invalid"}`)
		return
	}
	var req struct {
		Recipient struct {
			UserID string `json:"user_id"`
		} `json:"recipient"`
		Message struct {
			Text  string `json:"text"`
			Quote string `json:"quote_message_id"`
		} `json:"message"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Message.Text == "" || req.Recipient.UserID == "" || len([]rune(req.Message.Text)) > 2000 {
		answer(`{"error":-201,"message":"Parameters are invalid"}`)
		return
	}
	if s.rateLimit > 0 {
		s.rateLimit--
		s.limited++
		answer(`{"error":-32,"message":"Exceed limit request per minute"}`)
		return
	}
	if req.Recipient.UserID != s.Follower {
		answer(`{"error":-213,"message":"User has not followed OA"}`)
		return
	}
	if q := req.Message.Quote; q != "" {
		found := false
		for _, g := range s.got {
			found = found || g.MessageID == q
		}
		if !found {
			answer(`{"error":-201,"message":"Parameters are invalid: quote_message_id"}`)
			return
		}
	}
	m := ZaloMessage{MessageID: fmt.Sprintf("a1b2c3d4e5f6%04d", len(s.got)+1), UserID: req.Recipient.UserID, Text: req.Message.Text, Quote: req.Message.Quote}
	s.got = append(s.got, m)
	answer(fmt.Sprintf(`{"data":{"message_id":%q,"user_id":%q},"error":0,"message":"Success"}`, m.MessageID, m.UserID))
}
