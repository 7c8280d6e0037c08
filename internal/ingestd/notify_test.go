package ingestd_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/notify"
	"github.com/ioc-vn/ioc/internal/testenv"
	"github.com/ioc-vn/ioc/internal/testenv/messengers"
	"github.com/ioc-vn/ioc/internal/testenv/smtpd"
)

// Only the tamper rule, whose alert stays until resolved: the clock jumps
// minutes and no offline alert should join in.
const notifyRules = `
rules:
  - id: camera-tamper
    kind: event
    severity: critical
    scope: {kinds: [camera]}
    types: [tamper]
    clear_after: 24h
    message: {vi: "Che camera {{.Device.Name}}", en: "Tamper at {{.Device.Name}}"}
`

const webhookSecret = "a-secret-shared-with-the-receiver"

// hookReceiver is the province's system behind the webhook: it checks each
// request's signature and keeps what it accepts; it answers 500 to the
// first n requests.
type hookReceiver struct {
	mu      sync.Mutex
	fail    int
	got     []notify.Message
	refused []string
	now     func() time.Time
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail > 0 {
		h.fail--
		http.Error(w, "busy", http.StatusInternalServerError)
		return
	}
	// The sender signs with its own (injected) clock.
	if err := notify.VerifyWebhook([]byte(webhookSecret), r.Header, body, h.now(), 5*time.Minute); err != nil {
		h.refused = append(h.refused, err.Error())
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var m notify.Message
	if err := json.Unmarshal(body, &m); err != nil || r.Header.Get(notify.HeaderDelivery) != m.Key {
		h.refused = append(h.refused, fmt.Sprintf("body %s: %v", body, err))
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	h.got = append(h.got, m)
}

func (h *hookReceiver) messages() []notify.Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]notify.Message(nil), h.got...)
}

// TestNotifyEscalationAcrossRestart: a critical alert is sent to the
// webhook and a Telegram group at once (after the group wait; the webhook's
// first answer is a 500 and Telegram's a 429 with retry_after, both
// retried after a restart), e-mailed to the shift leader when still
// unacknowledged after 10 minutes, and sent to the director on Zalo when
// it misses its response targets (acknowledge in 5 minutes: Zalo's first
// answer is -32, waited out across a restart; restore in 10). The
// operator assigns it to the district's team, which acknowledges it: the
// team is e-mailed the assignment, the others told it is acknowledged;
// all are told it is resolved, the updates threaded. Ingest restarts
// twice on the way; each message arrives exactly once.
func TestNotifyEscalationAcrossRestart(t *testing.T) {
	c := alertConfig(t)
	if err := os.WriteFile(c.Alerts.Rules, []byte(notifyRules), 0o644); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 5, 8, 7, 30, 0, 0, time.UTC) // 14:30 in Hà Nội
	clock := &testClock{now: t0}
	hook := &hookReceiver{fail: 1, now: clock.Now}
	hs := httptest.NewServer(hook)
	defer hs.Close()
	mail := smtpd.Start(t)
	tg := messengers.StartTelegram(t, "7000000001:AAF-test-token", "-1001234567890")
	tg.RateLimit(1, 7)
	zalo := messengers.StartZalo(t, "oa-access-token", "8473926150183746")
	zalo.RateLimit(1)
	c.Alerts.Targets = map[alert.Severity]alert.Target{alert.Critical: {Acknowledge: 5 * time.Minute, Restore: 10 * time.Minute}}

	c.Notify = notify.Config{
		BaseURL: "https://ioc.test", GroupWait: 30 * time.Second,
		Channels: map[string]notify.ChannelConfig{
			"trung-tam": {Type: "webhook", URL: hs.URL, Secret: webhookSecret},
			"thu":       {Type: "smtp", Addr: mail.Addr, From: "IOC <ioc@test.vn>", Username: mail.Username, Password: mail.Password, CAFile: mail.CAFile},
			"telegram":  {Type: "telegram", URL: tg.URL, Token: tg.Token},
			"zalo":      {Type: "zalo", URL: zalo.URL, AccessToken: zalo.Token},
		},
		Recipients: map[string]notify.Recipient{
			"trung-tam": {Channel: "trung-tam"},
			"truong-ca": {Channel: "thu", To: "truong.ca@test.vn"},
			"nhom-q2":   {Channel: "telegram", To: tg.Chat},
			"giam-doc":  {Channel: "zalo", To: zalo.Follower},
			"doi-q2":    {Channel: "thu", To: "doi.ky.thuat.q2@test.vn"},
		},
		Assignees: map[string][]string{"team:ky-thuat-q2": {"doi-q2"}},
		// The operator is named; the technician (ky-thuat-2) is not, and
		// is named by username.
		People: map[string]string{"van-hanh-1": "Trực ban Lê Hoa"},
		Policies: []notify.Policy{{
			Name: "nghiem-trong-q2", Severities: []alert.Severity{alert.Critical}, Districts: []string{"d2"},
			Notify:         []string{"trung-tam", "nhom-q2"},
			Unacknowledged: []notify.Step{{After: 10 * time.Minute, Notify: []string{"truong-ca"}}},
			Breached:       []string{"giam-doc"},
		}},
	}
	const id = "camera-tamper/cam-b1"
	start := func() (*running, *wall) {
		ing := startIngest(t, c, clock.Now)
		return ing, watchWall(t, ing.BrokerURL)
	}

	ing, w := start()
	cam, err := dial(ing.BrokerURL, "cam-b1", "vms-tn", "demo-vms-tn")
	if err != nil {
		t.Fatal(err)
	}
	publish(t, cam, "ioc/v1/vms-tn/cam-b1/event", []byte(`{"type":"tamper"}`))
	cam.Disconnect(100)
	w.event(alert.Raised, id, 15*time.Second)

	// Within the group wait nothing goes out; after it, the webhook's first
	// answer is a 500 and Telegram's a 429 (retry after 7 s): the messages
	// wait in the outbox for their retries.
	clock.set(t0.Add(31 * time.Second))
	testenv.Eventually(t, 15*time.Second, func() error {
		hook.mu.Lock()
		defer hook.mu.Unlock()
		if hook.fail > 0 || tg.Limited() == 0 {
			return fmt.Errorf("the webhook and Telegram have not been called yet")
		}
		return nil
	})
	if n, m := len(hook.messages()), len(tg.Messages()); n+m != 0 {
		t.Fatalf("the webhook accepted %d messages and Telegram %d, want none yet", n, m)
	}
	ing.stop() // restart with the messages pending

	// At 5 minutes the acknowledge target is missed: the director is told
	// on Zalo, whose first answer is -32 (requests per minute): the channel
	// waits a minute, across the next restart.
	clock.set(t0.Add(5 * time.Minute))
	ing, _ = start()
	waitFor(t, "the raised message on the webhook and Telegram", func() bool { return len(hook.messages()) == 1 && len(tg.Messages()) == 1 })
	waitFor(t, "the breach on Zalo, rate limited", func() bool { return zalo.Limited() == 1 })
	m := hook.messages()[0]
	if m.Kind != notify.KindRaised || m.Alert != id || m.Severity != "critical" || m.Name != "Camera B1" || m.Place != "Quận 2" ||
		m.Link != "https://ioc.test/tech/#/device/cam-b1" || m.Lang != "vi" {
		t.Errorf("raised message = %+v", m)
	}
	for _, want := range []string{"Cảnh báo mới", "Nghiêm trọng", "Che camera Camera B1", "Quận 2", "14:30 08/05/2026", "https://ioc.test/tech/#/device/cam-b1"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("raised text lacks %q:\n%s", want, m.Text)
		}
	}
	if tm := tg.Messages()[0]; tm.Text != m.Text || tm.ReplyTo != 0 {
		t.Errorf("Telegram got %+v, want the webhook's text, not a reply", tm)
	}
	if len(mail.Mails()) != 0 || len(zalo.Messages()) != 0 {
		t.Fatalf("e-mail sent before 10 minutes unacknowledged (%d), or Zalo accepted a message while rate limiting (%d)", len(mail.Mails()), len(zalo.Messages()))
	}
	ing.stop() // a second restart before the escalation is due

	clock.set(t0.Add(10*time.Minute + time.Second))
	ing, w = start()
	waitFor(t, "the escalation e-mail", func() bool { return len(mail.Mails()) == 1 })
	e := mail.Mails()[0]
	if !e.TLS || e.To != "truong.ca@test.vn" {
		t.Errorf("e-mail to %s, over TLS %v", e.To, e.TLS)
	}
	subject := decodeHeader(t, e.Msg.Header.Get("Subject"))
	if want := "[Nghiêm trọng] Chưa ai xác nhận sau 10 phút: Che camera Camera B1"; subject != want {
		t.Errorf("subject %q, want %q", subject, want)
	}
	first := e.Msg.Header.Get("Message-ID")
	// The director: the acknowledge target missed (sent once the minute
	// Zalo asked for had passed), then the restore target at 10 minutes,
	// threaded under it.
	waitFor(t, "both breaches on Zalo", func() bool { return len(zalo.Messages()) == 2 })
	zm := zalo.Messages()
	for i, want := range [][]string{
		{"⏰ Quá hạn xác nhận (5 phút) · Nghiêm trọng", "Che camera Camera B1", "Hạn: 14:35 08/05/2026", "https://ioc.test/tech/#/device/cam-b1"},
		{"⏰ Quá hạn khắc phục (10 phút) · Nghiêm trọng", "Hạn: 14:40 08/05/2026"},
	} {
		for _, w := range want {
			if !strings.Contains(zm[i].Text, w) {
				t.Errorf("Zalo message %d lacks %q:\n%s", i, w, zm[i].Text)
			}
		}
	}
	if zm[0].Quote != "" || zm[1].Quote != zm[0].MessageID {
		t.Errorf("Zalo quotes %q then %q, want none then %q", zm[0].Quote, zm[1].Quote, zm[0].MessageID)
	}

	// Assigned to the district's team, which acknowledges it: the team is
	// e-mailed the assignment with its note, the four others told it is
	// acknowledged, threaded.
	command(t, w, `{"id":"n-1","op":"assign","alert":"`+id+`","assignee":"team:ky-thuat-q2","by":"van-hanh-1","note":"Đội Q2 xử lý"}`)
	w.event(alert.Acked, id, 10*time.Second)
	waitFor(t, "the assignment to the team and the acknowledgement to all", func() bool {
		return len(hook.messages()) == 2 && len(mail.Mails()) == 3 && len(tg.Messages()) == 2 && len(zalo.Messages()) == 3
	})
	mailTo := func(to string) (out []smtpd.Mail) {
		for _, m := range mail.Mails() {
			if m.To == to {
				out = append(out, m)
			}
		}
		return out
	}
	team := mailTo("doi.ky.thuat.q2@test.vn")
	if len(team) != 1 || decodeHeader(t, team[0].Msg.Header.Get("Subject")) != "[Nghiêm trọng] Giao việc: Che camera Camera B1" ||
		!strings.Contains(mailText(t, team[0]), "Giao bởi Trực ban Lê Hoa") {
		t.Errorf("the team's assignment e-mail: %+v", team)
	}
	ack := hook.messages()[1]
	if ack.Kind != notify.KindAcknowledged || ack.ReplyTo != m.Key || ack.By != "van-hanh-1" || !strings.Contains(ack.Text, "Đã xác nhận bởi Trực ban Lê Hoa") {
		t.Errorf("acknowledgement on the webhook = %+v", ack)
	}
	if got := mailTo("truong.ca@test.vn")[1].Msg.Header.Get("In-Reply-To"); got != first {
		t.Errorf("acknowledgement e-mail In-Reply-To %q, want the first e-mail's %q", got, first)
	}

	if tm := tg.Messages(); tm[1].ReplyTo != tm[0].MessageID || !strings.Contains(tm[1].Text, "Đã xác nhận bởi Trực ban Lê Hoa") {
		t.Errorf("Telegram acknowledgement %+v, want a reply to message %d", tm[1], tm[0].MessageID)
	}
	if zm := zalo.Messages(); zm[2].Quote != zm[0].MessageID || !strings.Contains(zm[2].Text, "👁 Đã xác nhận") {
		t.Errorf("Zalo acknowledgement %+v, want quoting %s", zm[2], zm[0].MessageID)
	}

	// Resolved: said after the group wait, to all.
	clock.set(t0.Add(12 * time.Minute))
	command(t, w, `{"id":"n-2","op":"resolve","alert":"`+id+`","by":"ky-thuat-2","note":"Đã lau ống kính"}`)
	w.event(alert.Cleared, id, 10*time.Second)
	clock.set(t0.Add(12*time.Minute + 31*time.Second))
	waitFor(t, "the resolved message to all", func() bool {
		return len(hook.messages()) == 3 && len(mail.Mails()) == 5 && len(tg.Messages()) == 3 && len(zalo.Messages()) == 4
	})
	res := hook.messages()[2]
	if res.Kind != notify.KindResolved || res.ReplyTo != m.Key || !strings.Contains(res.Text, "Đã xử lý xong bởi ky-thuat-2 lúc 14:42 08/05/2026, sau 12 phút") {
		t.Errorf("resolved message = %+v", res)
	}

	if team := mailTo("doi.ky.thuat.q2@test.vn"); len(team) != 2 || team[1].Msg.Header.Get("In-Reply-To") != team[0].Msg.Header.Get("Message-ID") {
		t.Errorf("the team's resolved e-mail is not threaded under the assignment: %+v", team)
	}
	if tm := tg.Messages(); tm[2].ReplyTo != tm[0].MessageID || !strings.HasPrefix(tm[2].Text, "✅ Đã khắc phục") {
		t.Errorf("Telegram resolved %+v, want a reply to message %d", tm[2], tm[0].MessageID)
	}
	if zm := zalo.Messages(); zm[3].Quote != zm[0].MessageID || !strings.HasPrefix(zm[3].Text, "✅ Đã khắc phục") {
		t.Errorf("Zalo resolved %+v, want quoting %s", zm[3], zm[0].MessageID)
	}

	// Exactly once: nothing more comes, and the outbox agrees.
	// A delivery the receiver already holds is marked sent once its
	// answer is read: wait for the outbox to settle, then nothing more
	// may have reached anyone.
	clock.set(t0.Add(2 * time.Hour))
	testenv.Eventually(t, 15*time.Second, func() error {
		st := outboxStatus(t, ing.HTTP)
		if st.Counts["sent"] != 15 || st.Counts["pending"]+st.Counts["sending"]+st.Counts["failed"] != 0 || st.Incidents != 0 {
			return fmt.Errorf("outbox %+v, want 15 sent, nothing else, no open incident", st)
		}
		return nil
	})
	if n, e, g, z := len(hook.messages()), len(mail.Mails()), len(tg.Messages()), len(zalo.Messages()); n != 3 || e != 5 || g != 3 || z != 4 {
		t.Errorf("after the outbox settled: webhook %d, e-mail %d, Telegram %d, Zalo %d; want 3, 5, 3, 4", n, e, g, z)
	}
	keys := map[string]int{}
	for _, m := range hook.messages() {
		keys[m.Key]++
	}
	for _, e := range mail.Mails() {
		keys[e.Msg.Header.Get("X-IOC-Delivery")]++
	}
	for k, n := range keys {
		if n != 1 {
			t.Errorf("%s delivered %d times", k, n)
		}
	}
	// Telegram and Zalo carry no key: each message is a different one.
	for _, tm := range tg.Messages() {
		keys["telegram "+strings.SplitN(tm.Text, "\n", 2)[0]]++
	}
	for _, zm := range zalo.Messages() {
		keys["zalo "+strings.SplitN(zm.Text, "\n", 2)[0]]++
	}
	if len(keys) != 15 {
		t.Errorf("%d distinct messages delivered, want 15: %v", len(keys), keys)
	}
	hook.mu.Lock()
	if len(hook.refused) > 0 {
		t.Errorf("the receiver refused: %v", hook.refused)
	}
	hook.mu.Unlock()
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, func() error {
		if !ok() {
			return fmt.Errorf("waiting for %s", what)
		}
		return nil
	})
}

func command(t *testing.T, w *wall, body string) {
	t.Helper()
	tok := w.c.Publish(contract.CommandsTopic, 1, false, []byte(body))
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("command: %v", tok.Error())
	}
}

func decodeHeader(t *testing.T, v string) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func outboxStatus(t *testing.T, httpAddr string) notify.Status {
	t.Helper()
	resp, err := http.Get("http://" + httpAddr + "/-/notify")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st notify.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// mailText is an e-mail's body as its reader sees it (quoted-printable
// decoded).
func mailText(t *testing.T, m smtpd.Mail) string {
	t.Helper()
	if !strings.EqualFold(m.Msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		return string(m.Body)
	}
	b, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(m.Body)))
	if err != nil {
		t.Fatalf("e-mail body: %v", err)
	}
	return string(b)
}
