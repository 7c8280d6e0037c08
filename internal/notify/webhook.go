package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Webhook headers. The signature is HMAC-SHA256, keyed with the channel's
// secret, over "<timestamp>.<body>": a receiver recomputes it, compares in
// constant time and refuses a timestamp older than a few minutes, so a
// captured request cannot be replayed later (VerifyWebhook does all three).
const (
	HeaderSignature = "X-IOC-Signature" // "sha256=<hex>"
	HeaderTimestamp = "X-IOC-Timestamp" // unix seconds
	HeaderDelivery  = "X-IOC-Delivery"  // the message's idempotency key
)

// Webhook posts each message as JSON (Message) to one URL.
type Webhook struct {
	url    string
	secret []byte
	hc     *http.Client
	now    func() time.Time
}

var _ Channel = (*Webhook)(nil)

// NewWebhook posts to url, signing with secret.
func NewWebhook(url, secret string, hc *http.Client) *Webhook {
	return &Webhook{url: url, secret: []byte(secret), hc: hc, now: time.Now}
}

func checkWebhook(c *ChannelConfig) error {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("url %q: an http(s) address is needed", c.URL)
	}
	if len(c.Secret) < 16 {
		return errors.New("secret: at least 16 characters, shared with the receiver, who checks X-IOC-Signature")
	}
	return nil
}

// Sign returns the X-IOC-Signature value for body sent at ts.
func Sign(secret []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "%d.", ts)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifyWebhook checks a received webhook: its signature over its
// timestamp and body, and that the timestamp is within tolerance of now.
func VerifyWebhook(secret []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return errors.New("no valid " + HeaderTimestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("timestamp %d is %s from now: refused as a possible replay", ts, d.Round(time.Second))
	}
	if !hmac.Equal([]byte(h.Get(HeaderSignature)), []byte(Sign(secret, ts, body))) {
		return errors.New("signature does not match")
	}
	return nil
}

// Send posts m. The reference it returns is m.Key: a receiver threads by
// incident and reply_to.
func (w *Webhook) Send(ctx context.Context, _ string, m *Message) (string, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return "", Permanent(err)
	}
	ts := w.now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return "", Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ioc-notify")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(w.secret, ts, body))
	req.Header.Set(HeaderDelivery, m.Key)
	resp, err := w.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if err := httpError(resp, answer); err != nil {
		return "", err
	}
	return m.Key, nil
}

// httpError classifies an HTTP answer: 2xx is nil; 429 and 503 with
// Retry-After are RateLimited; 408, 429 and 5xx are retried; any other
// 4xx is Permanent (the request itself is wrong).
func httpError(resp *http.Response, body []byte) error {
	if resp.StatusCode/100 == 2 {
		return nil
	}
	err := fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	if after, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		return &RateLimited{After: after, Err: err}
	}
	switch {
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return err
	}
	return Permanent(err)
}

// retryAfter parses a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
