package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTP sends each message as a plain-text e-mail through a submission
// server, upgrading the connection with STARTTLS before it authenticates
// (emersion/go-smtp's client: maintained, and the server side our tests
// run). Updates of an incident carry In-Reply-To and References, so mail
// clients show the incident as one thread.
type SMTP struct {
	o   SMTPOptions
	now func() time.Time
}

// SMTPOptions configure an SMTP channel.
type SMTPOptions struct {
	Addr     string // host:port, usually :587
	From     string
	Username string // empty: no AUTH
	Password string
	// TLS verifies the server; nil uses the system's roots and Addr's host.
	TLS *tls.Config
	// Insecure sends without STARTTLS: only for a relay on this machine.
	Insecure bool
	Timeout  time.Duration
}

var _ Channel = (*SMTP)(nil)

// NewSMTP returns an SMTP channel.
func NewSMTP(o SMTPOptions) *SMTP {
	if o.Timeout == 0 {
		o.Timeout = defaultTimeout
	}
	if o.TLS == nil {
		host, _, _ := net.SplitHostPort(o.Addr)
		o.TLS = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	return &SMTP{o: o, now: time.Now}
}

func checkSMTP(c *ChannelConfig) error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("addr %q: host:port is needed (submission is usually port 587)", c.Addr)
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		return fmt.Errorf("from %q: %v", c.From, err)
	}
	if c.Insecure && c.Username != "" {
		return errors.New("insecure: a password is never sent without TLS; drop username or insecure")
	}
	if c.CAFile != "" {
		if _, err := os.ReadFile(c.CAFile); err != nil {
			return fmt.Errorf("ca_file: %w", err)
		}
	}
	return nil
}

func newSMTPFromConfig(c *ChannelConfig) *SMTP {
	o := SMTPOptions{Addr: c.Addr, From: c.From, Username: c.Username, Password: c.Password, Insecure: c.Insecure, Timeout: c.Timeout}
	if c.CAFile != "" {
		host, _, _ := net.SplitHostPort(c.Addr)
		pool := x509.NewCertPool()
		if pem, err := os.ReadFile(c.CAFile); err == nil {
			pool.AppendCertsFromPEM(pem)
		}
		o.TLS = &tls.Config{ServerName: host, RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return NewSMTP(o)
}

// Send mails m to the address to. The reference is the Message-ID, made
// from m's key, so a resent copy carries the same one.
func (s *SMTP) Send(ctx context.Context, to string, m *Message) (string, error) {
	rcpt, err := mail.ParseAddress(to)
	if err != nil {
		return "", Permanent(fmt.Errorf("address %q: %w", to, err))
	}
	from, err := mail.ParseAddress(s.o.From)
	if err != nil {
		return "", Permanent(err)
	}
	id := "<" + strings.NewReplacer("/", ".", "@", ".", ":", ".").Replace(m.Key) + "@ioc.notify>"
	body := s.compose(from, rcpt, id, m)

	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.o.Addr)
	if err != nil {
		return "", err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	var c *smtp.Client
	if s.o.Insecure {
		c = smtp.NewClient(conn)
	} else if c, err = smtp.NewClientStartTLS(conn, s.o.TLS); err != nil {
		conn.Close()
		return "", smtpError(fmt.Errorf("STARTTLS with %s: %w", s.o.Addr, err))
	}
	defer c.Close()
	if s.o.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", s.o.Username, s.o.Password)); err != nil {
			return "", smtpError(fmt.Errorf("AUTH: %w", err))
		}
	}
	if err := c.SendMail(from.Address, []string{rcpt.Address}, bytes.NewReader(body)); err != nil {
		return "", smtpError(err)
	}
	_ = c.Quit()
	return id, nil
}

// smtpError classifies an SMTP reply: 5xx is permanent (RFC 5321 4.2.1),
// 4xx and network errors are retried.
func smtpError(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code >= 500 {
		return Permanent(err)
	}
	return err
}

func (s *SMTP) compose(from, to *mail.Address, id string, m *Message) []byte {
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", from.String())
	h("To", to.String())
	h("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	h("Date", s.now().In(hcm).Format(time.RFC1123Z))
	h("Message-ID", id)
	if m.ReplyTo != "" {
		h("In-Reply-To", m.ReplyTo)
		h("References", m.ReplyTo)
	}
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	h("X-IOC-Delivery", m.Key)
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	text := m.Text
	qp.Write([]byte(strings.ReplaceAll(text, "\n", "\r\n")))
	qp.Close()
	b.WriteString("\r\n")
	return b.Bytes()
}
