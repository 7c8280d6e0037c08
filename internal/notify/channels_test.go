package notify

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/testenv/smtpd"
)

// telegramStandIn answers sendMessage as the Bot API documents it
// (https://core.telegram.org/bots/api#making-requests): the token in the
// path, JSON in, {"ok": ...} out, 429 with parameters.retry_after while
// rateLimited > 0, 400 "chat not found" for an unknown chat.
type telegramStandIn struct {
	mu          sync.Mutex
	token       string
	rateLimited int
	next        int64
	got         []map[string]any
}

func (s *telegramStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost || r.URL.Path != "/bot"+s.token+"/sendMessage" {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"ok":false,"error_code":404,"description":"Not Found"}`))
		return
	}
	var req map[string]any
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req["text"] == "" {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"ok":false,"error_code":400,"description":"Bad Request: message text is empty"}`))
		return
	}
	if s.rateLimited > 0 {
		s.rateLimited--
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}`))
		return
	}
	if req["chat_id"] != "-100200" {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`))
		return
	}
	s.next++
	s.got = append(s.got, req)
	w.Write([]byte(`{"ok":true,"result":{"message_id":` + strconv.FormatInt(s.next, 10) + `,"chat":{"id":-100200,"type":"supergroup"},"date":1,"text":"x"}}`))
}

func TestTelegram(t *testing.T) {
	s := &telegramStandIn{token: "123:ABC", rateLimited: 1, next: 40}
	srv := httptest.NewServer(s)
	defer srv.Close()
	tg := NewTelegram(srv.URL, "123:ABC", srv.Client())
	ctx := context.Background()
	m := &Message{Key: "k1", Text: "Cảnh báo mới"}

	_, err := tg.Send(ctx, "-100200", m)
	var rl *RateLimited
	if !errors.As(err, &rl) || rl.After != 7*time.Second {
		t.Fatalf("429: got %v, want RateLimited after 7s", err)
	}
	ref, err := tg.Send(ctx, "-100200", m)
	if err != nil || ref != "41" {
		t.Fatalf("send: ref %q, %v", ref, err)
	}
	if _, err := tg.Send(ctx, "-100200", &Message{Key: "k2", Text: "Đã xác nhận", ReplyTo: ref}); err != nil {
		t.Fatal(err)
	}
	reply, _ := s.got[1]["reply_parameters"].(map[string]any)
	if reply == nil || reply["message_id"] != float64(41) || reply["allow_sending_without_reply"] != true {
		t.Errorf("update not threaded under message 41: %v", s.got[1])
	}
	if _, ok := s.got[0]["reply_parameters"]; ok {
		t.Errorf("first message replies to something: %v", s.got[0])
	}
	if _, err := tg.Send(ctx, "-999", m); !IsPermanent(err) || !strings.Contains(err.Error(), "chat not found") {
		t.Errorf("unknown chat: %v, want a permanent error", err)
	}
	if _, err := NewTelegram(srv.URL, "wrong", srv.Client()).Send(ctx, "-100200", m); !IsPermanent(err) {
		t.Errorf("wrong token: %v, want a permanent error", err)
	}
}

// zaloStandIn answers POST /v3.0/oa/message/cs as Zalo's OA API does: the
// token in the access_token header, HTTP 200 always, {"error": code}.
type zaloStandIn struct {
	mu          sync.Mutex
	rateLimited int
	got         []map[string]any
}

func (s *zaloStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	answer := func(body string) { w.Header().Set("Content-Type", "application/json"); w.Write([]byte(body)) }
	if r.URL.Path != "/v3.0/oa/message/cs" || r.Method != http.MethodPost {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if r.Header.Get("access_token") != "oa-token" {
		answer(`{"error":-216,"message":"Access token is invalid"}`)
		return
	}
	var req struct {
		Recipient struct {
			UserID string `json:"user_id"`
		} `json:"recipient"`
		Message map[string]any `json:"message"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Message["text"] == nil {
		answer(`{"error":-201,"message":"Parameters are invalid"}`)
		return
	}
	if s.rateLimited > 0 {
		s.rateLimited--
		answer(`{"error":-32,"message":"Exceed limit request per minute"}`)
		return
	}
	if req.Recipient.UserID != "8473926150183746" {
		answer(`{"error":-213,"message":"User has not followed OA"}`)
		return
	}
	s.got = append(s.got, req.Message)
	answer(`{"data":{"message_id":"msg-` + strconv.Itoa(len(s.got)) + `","user_id":"8473926150183746"},"error":0,"message":"Success"}`)
}

func TestZalo(t *testing.T) {
	s := &zaloStandIn{rateLimited: 1}
	srv := httptest.NewServer(s)
	defer srv.Close()
	z := NewZalo(srv.URL, "oa-token", srv.Client())
	ctx := context.Background()
	m := &Message{Key: "k1", Text: "Cảnh báo mới"}
	var rl *RateLimited
	if _, err := z.Send(ctx, "8473926150183746", m); !errors.As(err, &rl) || rl.After != time.Minute {
		t.Fatalf("-32: got %v, want RateLimited for a minute", err)
	}
	ref, err := z.Send(ctx, "8473926150183746", m)
	if err != nil || ref != "msg-1" {
		t.Fatalf("send: %q, %v", ref, err)
	}
	if _, err := z.Send(ctx, "8473926150183746", &Message{Key: "k2", Text: "Đã khắc phục", ReplyTo: ref}); err != nil {
		t.Fatal(err)
	}
	if s.got[1]["quote_message_id"] != "msg-1" || s.got[1]["text"] != "Đã khắc phục" {
		t.Errorf("update = %v, want quoting msg-1", s.got[1])
	}
	if _, err := z.Send(ctx, "1", m); !IsPermanent(err) || !strings.Contains(err.Error(), "-213") {
		t.Errorf("not a follower: %v, want permanent -213", err)
	}
	if _, err := NewZalo(srv.URL, "stale", srv.Client()).Send(ctx, "8473926150183746", m); !IsPermanent(err) || !strings.Contains(err.Error(), "-216") {
		t.Errorf("bad token: %v, want permanent -216", err)
	}
}

func TestWebhook(t *testing.T) {
	secret := "0123456789abcdef-secret"
	now := time.Date(2026, 5, 8, 7, 30, 0, 0, time.UTC)
	var mu sync.Mutex
	var answers = []int{http.StatusServiceUnavailable, http.StatusOK, http.StatusBadRequest}
	var verified []error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		body := make([]byte, r.ContentLength)
		r.Body.Read(body)
		verified = append(verified, VerifyWebhook([]byte(secret), r.Header, body, now, 5*time.Minute))
		code := answers[0]
		answers = answers[1:]
		if code == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "120")
		}
		w.WriteHeader(code)
	}))
	defer srv.Close()
	wh := NewWebhook(srv.URL, secret, srv.Client())
	wh.now = func() time.Time { return now }
	m := &Message{Key: "a@1/raised/p/r", Text: "x"}
	var rl *RateLimited
	if _, err := wh.Send(context.Background(), "", m); !errors.As(err, &rl) || rl.After != 2*time.Minute {
		t.Errorf("503 with Retry-After 120: %v", err)
	}
	if ref, err := wh.Send(context.Background(), "", m); err != nil || ref != m.Key {
		t.Errorf("200: %q, %v", ref, err)
	}
	if _, err := wh.Send(context.Background(), "", m); !IsPermanent(err) {
		t.Errorf("400: %v, want permanent", err)
	}
	for i, err := range verified {
		if err != nil {
			t.Errorf("request %d: signature: %v", i, err)
		}
	}
	// A replay ten minutes later, or a changed body, is refused.
	h := http.Header{}
	h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(HeaderSignature, Sign([]byte(secret), now.Unix(), []byte(`{"a":1}`)))
	if err := VerifyWebhook([]byte(secret), h, []byte(`{"a":1}`), now.Add(10*time.Minute), 5*time.Minute); err == nil {
		t.Error("a replay 10 minutes later was accepted")
	}
	if err := VerifyWebhook([]byte(secret), h, []byte(`{"a":2}`), now, 5*time.Minute); err == nil {
		t.Error("a changed body was accepted")
	}
}

func TestSMTP(t *testing.T) {
	srv := smtpd.Start(t)
	c := &ChannelConfig{Type: "smtp", Addr: srv.Addr, From: "IOC <ioc@test.vn>", Username: srv.Username, Password: srv.Password, CAFile: srv.CAFile}
	if err := checkSMTP(c); err != nil {
		t.Fatal(err)
	}
	s := newSMTPFromConfig(c)
	ref, err := s.Send(context.Background(), "ky.thuat@test.vn", &Message{Key: "a@1/raised/p/r", Subject: "[Nghiêm trọng] Cảnh báo mới", Text: "Thiết bị: Camera cổng chính"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(context.Background(), "ky.thuat@test.vn", &Message{Key: "a@1/resolved/r", Subject: "Đã khắc phục", Text: "xong", ReplyTo: ref}); err != nil {
		t.Fatal(err)
	}
	got := srv.Mails()
	if len(got) != 2 || !got[0].TLS || got[0].To != "ky.thuat@test.vn" || got[0].Msg.Header.Get("Message-ID") != ref {
		t.Fatalf("mails %+v", got)
	}
	if got[1].Msg.Header.Get("In-Reply-To") != ref || got[1].Msg.Header.Get("References") != ref {
		t.Errorf("the update is not threaded: %v", got[1].Msg.Header)
	}
	// A wrong password is the configuration's fault: not retried.
	bad := *c
	bad.Password = "wrong"
	if _, err := newSMTPFromConfig(&bad).Send(context.Background(), "ky.thuat@test.vn", &Message{Key: "k", Text: "x"}); !IsPermanent(err) {
		t.Errorf("wrong password: %v, want permanent", err)
	}
	// A server whose certificate is not trusted gets nothing.
	untrusted := *c
	untrusted.CAFile = ""
	if _, err := newSMTPFromConfig(&untrusted).Send(context.Background(), "ky.thuat@test.vn", &Message{Key: "k", Text: "x"}); err == nil {
		t.Error("sent to a server whose certificate is not trusted")
	}
}
