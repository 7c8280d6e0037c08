package broker_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/broker"
	"github.com/ioc-vn/ioc/internal/mqttsub"
	"github.com/ioc-vn/ioc/internal/testenv"
)

type pki struct {
	caPEM, serverCert, serverKey, clientCA string
	client                                 tls.Certificate
	roots                                  *x509.CertPool
}

// newPKI writes a CA, a server certificate for 127.0.0.1 and returns a
// client certificate, all signed by the CA.
func newPKI(t *testing.T) pki {
	dir := t.TempDir()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ioc test CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, ext x509.ExtKeyUsage, ips []net.IP) ([]byte, *ecdsa.PrivateKey) {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "ioc " + strconv.FormatInt(serial, 10)},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{ext}, IPAddresses: ips,
			KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte {
		b, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	srvDER, srvKey := issue(2, x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	cliDER, cliKey := issue(3, x509.ExtKeyUsageClientAuth, nil)
	p := pki{
		caPEM:      write("ca.pem", "CERTIFICATE", caDER),
		serverCert: write("server.pem", "CERTIFICATE", srvDER),
		serverKey:  write("server.key", "EC PRIVATE KEY", keyDER(srvKey)),
		client:     tls.Certificate{Certificate: [][]byte{cliDER}, PrivateKey: cliKey},
		roots:      x509.NewCertPool(),
	}
	p.clientCA = p.caPEM
	p.roots.AddCert(ca)
	return p
}

func startBroker(t *testing.T, c broker.Config) chan *broker.Message {
	got := make(chan *broker.Message, 10)
	b, err := broker.New(c, broker.Deps{Log: slog.New(slog.DiscardHandler), IntakePrefix: "ioc/v1/", Intake: func(m *broker.Message) { got <- m }})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return got
}

func connect(url string, tc *tls.Config) error {
	o := paho.NewClientOptions().AddBroker(url).SetClientID("tls-client").SetTLSConfig(tc).
		SetAutoReconnect(false).SetConnectTimeout(3 * time.Second)
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(5 * time.Second) {
		return os.ErrDeadlineExceeded
	}
	if tok.Error() == nil {
		defer c.Disconnect(0)
		pt := c.Publish("ioc/v1/acme/cam-01/status", 1, false, `{"state":"online"}`)
		pt.WaitTimeout(100 * time.Millisecond) // the PUBACK comes only from ingest's Ack
	}
	return tok.Error()
}

func TestTLSListener(t *testing.T) {
	p := newPKI(t)
	tlsAddr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	got := startBroker(t, broker.Config{
		Listen: "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)), AllowAnonymous: true,
		TLSListen: tlsAddr, TLSCert: p.serverCert, TLSKey: p.serverKey,
	})
	if err := connect("ssl://"+tlsAddr, &tls.Config{RootCAs: p.roots}); err != nil {
		t.Fatalf("TLS connect: %v", err)
	}
	select {
	case m := <-got:
		if m.Topic() != "ioc/v1/acme/cam-01/status" {
			t.Fatalf("intake got %s", m.Topic())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("message over TLS did not reach the intake")
	}
	if err := connect("ssl://"+tlsAddr, &tls.Config{RootCAs: x509.NewCertPool()}); err == nil {
		t.Fatal("connected without trusting the server's CA")
	}
	if err := connect("tcp://"+tlsAddr, nil); err == nil {
		t.Fatal("plain MQTT connected to the TLS listener")
	}
}

func TestTLSClientCertificateRequired(t *testing.T) {
	p := newPKI(t)
	tlsAddr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	startBroker(t, broker.Config{
		Listen: "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)), AllowAnonymous: true,
		TLSListen: tlsAddr, TLSCert: p.serverCert, TLSKey: p.serverKey, TLSClientCA: p.clientCA,
	})
	if err := connect("ssl://"+tlsAddr, &tls.Config{RootCAs: p.roots}); err == nil {
		t.Fatal("connected without a client certificate")
	}
	if err := connect("ssl://"+tlsAddr, &tls.Config{RootCAs: p.roots, Certificates: []tls.Certificate{p.client}}); err != nil {
		t.Fatalf("with a client certificate: %v", err)
	}
}

func TestRefusesBrokerWithoutAccess(t *testing.T) {
	_, err := broker.New(broker.Config{Listen: "127.0.0.1:0"}, broker.Deps{IntakePrefix: "ioc/v1/", Intake: func(*broker.Message) {}})
	if err == nil {
		t.Fatal("a broker with neither credentials nor allow_anonymous started")
	}
}

// TestIngestClientOverTLS: ingest's own MQTT client (mqttsub) reaches a
// TLS broker with a CA file and a client certificate from its config.
func TestIngestClientOverTLS(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	keyDER, _ := x509.MarshalECPrivateKey(p.client.PrivateKey.(*ecdsa.PrivateKey))
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.client.Certificate[0]}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	tlsAddr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	startBroker(t, broker.Config{
		Listen: "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)), AllowAnonymous: true,
		TLSListen: tlsAddr, TLSCert: p.serverCert, TLSKey: p.serverKey, TLSClientCA: p.clientCA,
	})
	cfg := mqttsub.Config{Broker: "ssl://" + tlsAddr, ClientID: "ingest-tls", Topics: []string{"x/#"}, CAFile: p.caPEM, CertFile: certPath, KeyFile: keyPath}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c := mqttsub.New(cfg, slog.New(slog.DiscardHandler), func(mqttsub.Message) {})
	defer c.Close(0)
	if err := c.Connect(t.Context()); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if !c.Connected() {
			return os.ErrNotExist
		}
		return nil
	})
	bad := cfg
	bad.CAFile = certPath + ".missing"
	if bad.Validate() == nil {
		t.Fatal("a missing CA file passed validation")
	}
}
