package notify

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/testenv/messengers"
	"github.com/ioc-vn/ioc/internal/testenv/smtpd"
)

func TestTelegram(t *testing.T) {
	s := messengers.StartTelegram(t, "123:ABC", "-100200")
	s.RateLimit(1, 7)
	tg := NewTelegram(s.URL, "123:ABC", http.DefaultClient)
	ctx := context.Background()
	m := &Message{Key: "k1", Text: "Cảnh báo mới"}

	_, err := tg.Send(ctx, "-100200", m)
	var rl *RateLimited
	if !errors.As(err, &rl) || rl.After != 7*time.Second {
		t.Fatalf("429: got %v, want RateLimited after 7s", err)
	}
	ref, err := tg.Send(ctx, "-100200", m)
	if err != nil || ref != "101" {
		t.Fatalf("send: ref %q, %v", ref, err)
	}
	if _, err := tg.Send(ctx, "-100200", &Message{Key: "k2", Text: "Đã xác nhận", ReplyTo: ref}); err != nil {
		t.Fatal(err)
	}
	got := s.Messages()
	if got[1].ReplyTo != 101 || !got[1].AllowWithout || got[1].Text != "Đã xác nhận" {
		t.Errorf("update not threaded under message 101: %+v", got[1])
	}
	if got[0].ReplyTo != 0 {
		t.Errorf("first message replies to something: %+v", got[0])
	}
	if _, err := tg.Send(ctx, "-999", m); !IsPermanent(err) || !strings.Contains(err.Error(), "chat not found") {
		t.Errorf("unknown chat: %v, want a permanent error", err)
	}
	if _, err := NewTelegram(s.URL, "wrong", http.DefaultClient).Send(ctx, "-100200", m); !IsPermanent(err) || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong token: %v, want a permanent error that does not show the token", err)
	}
}

func TestZalo(t *testing.T) {
	s := messengers.StartZalo(t, "oa-token", "8473926150183746")
	s.RateLimit(1)
	z := NewZalo(s.URL, "oa-token", http.DefaultClient)
	ctx := context.Background()
	m := &Message{Key: "k1", Text: "Cảnh báo mới"}
	var rl *RateLimited
	if _, err := z.Send(ctx, "8473926150183746", m); !errors.As(err, &rl) || rl.After != time.Minute {
		t.Fatalf("-32: got %v, want RateLimited for a minute", err)
	}
	ref, err := z.Send(ctx, "8473926150183746", m)
	if err != nil || ref == "" {
		t.Fatalf("send: %q, %v", ref, err)
	}
	if _, err := z.Send(ctx, "8473926150183746", &Message{Key: "k2", Text: "Đã khắc phục", ReplyTo: ref}); err != nil {
		t.Fatal(err)
	}
	if got := s.Messages(); got[1].Quote != ref || got[1].Text != "Đã khắc phục" || got[0].Quote != "" {
		t.Errorf("messages = %+v, want the update quoting %s", got, ref)
	}
	if _, err := z.Send(ctx, "1", m); !IsPermanent(err) || !strings.Contains(err.Error(), "-213") {
		t.Errorf("not a follower: %v, want permanent -213", err)
	}
	if _, err := NewZalo(s.URL, "stale", http.DefaultClient).Send(ctx, "8473926150183746", m); !IsPermanent(err) || !strings.Contains(err.Error(), "-216") {
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
