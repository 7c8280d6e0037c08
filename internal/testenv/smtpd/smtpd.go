// Package smtpd runs a real SMTP server in a test (apart from testenv, so
// that the commands linking testenv do not link an SMTP server).
package smtpd

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Server is a real SMTP server (emersion/go-smtp) on a free loopback port:
// STARTTLS with a certificate made for the test, AUTH PLAIN with one
// account, and no mail accepted before both. It keeps every message.
type Server struct {
	Addr     string
	CAFile   string // the certificate, PEM: what a client must trust
	Username string
	Password string

	mu   sync.Mutex
	mail []Mail
}

// Mail is one received message.
type Mail struct {
	From, To string
	TLS      bool
	Msg      *mail.Message
	Body     []byte // raw body, as sent (quoted-printable etc.)
}

// Start starts the server; it stops when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	cert, pemBytes := selfSignedCert(t)
	s := &Server{CAFile: filepath.Join(t.TempDir(), "smtp-ca.pem"), Username: "ioc-notify", Password: "test-password"}
	if err := os.WriteFile(s.CAFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "mail.test"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.EnableSMTPUTF8 = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

// Mails returns what was received so far.
func (s *Server) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mail...)
}

type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: b.s, c: c}, nil
}

type session struct {
	s        *Server
	c        *smtp.Conn
	authed   bool
	from, to string
}

func (z *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (z *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if _, tls := z.c.TLSConnectionState(); !tls {
			return errors.New("AUTH before STARTTLS")
		}
		if user != z.s.Username || pass != z.s.Password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"} // RFC 4954
		}
		z.authed = true
		return nil
	}), nil
}

func (z *session) Mail(from string, _ *smtp.MailOptions) error {
	if !z.authed {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	z.from = from
	return nil
}

func (z *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	z.to = to
	return nil
}

func (z *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "not an RFC 5322 message: " + err.Error()}
	}
	body, _ := io.ReadAll(m.Body)
	_, tls := z.c.TLSConnectionState()
	z.s.mu.Lock()
	z.s.mail = append(z.s.mail, Mail{From: z.from, To: z.to, TLS: tls, Msg: m, Body: body})
	z.s.mu.Unlock()
	return nil
}

func (z *session) Reset()        { z.from, z.to = "", "" }
func (z *session) Logout() error { return nil }

// selfSignedCert makes a certificate for 127.0.0.1, valid for a day.
func selfSignedCert(t testing.TB) (tls.Certificate, []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ioc test smtp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	if err != nil {
		t.Fatal(err)
	}
	return cert, certPEM
}
