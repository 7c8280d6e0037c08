package main

import (
	"bytes"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ioc-vn/ioc/internal/access"
	"github.com/ioc-vn/ioc/internal/testenv"
)

func TestHashPassword(t *testing.T) {
	var out, errb bytes.Buffer
	if code := hashPassword([]string{"-iterations", "1000"}, strings.NewReader("Mật-khẩu 1\n"), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if h := strings.TrimSpace(out.String()); !access.Verify(h, []byte("Mật-khẩu 1")) {
		t.Fatalf("printed hash %q does not verify", h)
	}
	out.Reset()
	if code := hashPassword([]string{"-generate", "-iterations", "1000"}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatal(errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	secret := strings.TrimPrefix(lines[0], "secret: ")
	if len(lines) != 2 || len(secret) < 20 || !access.Verify(lines[1], []byte(secret)) {
		t.Fatalf("generate printed %q", out.String())
	}
}

// TestAccountPasswordHashNames: the command is account-password-hash; the
// old name hash-password still runs it.
func TestAccountPasswordHashNames(t *testing.T) {
	for _, name := range []string{"account-password-hash", "hash-password"} {
		var out, errb bytes.Buffer
		ran, code := tool([]string{name, "-iterations", "1000"}, strings.NewReader("s3cret\n"), &out, &errb)
		if !ran || code != 0 || !access.Verify(strings.TrimSpace(out.String()), []byte("s3cret")) {
			t.Errorf("%s: ran %v, exit %d, printed %q, %s", name, ran, code, out.String(), errb.String())
		}
	}
}

type mosquittoClient struct {
	paho.Client
	mu  sync.Mutex
	got []string
}

func connectMosquitto(t *testing.T, url, user, pass string, subscribe ...string) (*mosquittoClient, error) {
	t.Helper()
	c := &mosquittoClient{}
	o := paho.NewClientOptions().AddBroker(url).SetClientID("c-" + user + fmt.Sprint(time.Now().UnixNano())).SetUsername(user).SetPassword(pass).
		SetCleanSession(true).SetAutoReconnect(false).SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
		c.mu.Lock()
		c.got = append(c.got, m.Topic())
		c.mu.Unlock()
	})
	c.Client = paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, tok.Error()
	}
	t.Cleanup(func() { c.Disconnect(0) })
	for _, f := range subscribe {
		c.Subscribe(f, 1, nil).WaitTimeout(5 * time.Second)
	}
	return c, nil
}

func (c *mosquittoClient) received() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.got...)
}

// TestMosquittoFilesEnforceAccounts generates Mosquitto's password and ACL
// files from the shipped credentials and checks that a real Mosquitto then
// enforces what the embedded broker enforces.
func TestMosquittoFilesEnforceAccounts(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := mosquittoFiles([]string{"-credentials", "../../configs/credentials.yaml", "-registry", "../../configs/devices.yaml", "-out", dir, "-owner", ""}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	mq := testenv.StartMosquitto(t, testenv.MosquittoOptions{PasswordFile: filepath.Join(dir, "ioc.passwd"), ACLFile: filepath.Join(dir, "ioc.acl")})

	if _, err := connectMosquitto(t, mq.URL, "", ""); err == nil {
		t.Error("anonymous client connected")
	}
	if _, err := connectMosquitto(t, mq.URL, "vms-tn", "wrong"); err == nil {
		t.Error("wrong password connected")
	}
	server, err := connectMosquitto(t, mq.URL, "ioc-ingest", "demo-ioc-ingest", "ioc/v1/#", "ioc/server/v1/#")
	if err != nil {
		t.Fatalf("ingest account: %v", err)
	}
	// ingest processes share their subscription.
	shared, err := connectMosquitto(t, mq.URL, "ioc-ingest", "demo-ioc-ingest", "$share/ingest/ioc/v1/#")
	if err != nil {
		t.Fatalf("ingest account: %v", err)
	}
	web, err := connectMosquitto(t, mq.URL, "ioc-server", "demo-ioc-server", "ioc/server/v1/#")
	if err != nil {
		t.Fatalf("web account: %v", err)
	}
	vms, err := connectMosquitto(t, mq.URL, "vms-tn", "demo-vms-tn", "ioc/v1/vms-tn/_errors", "ioc/v1/envsense/_errors", "ioc/v1/#")
	if err != nil {
		t.Fatalf("vms-tn: %v", err)
	}
	pub := func(c paho.Client, topic string) { c.Publish(topic, 1, false, "{}").WaitTimeout(5 * time.Second) }
	pub(vms, "ioc/v1/vms-tn/cam-bvtw-03/status") // allowed
	pub(server, "ioc/v1/vms-tn/_errors")         // vms-tn must get this
	pub(server, "ioc/v1/envsense/_errors")       // and not this
	pub(server, "ioc/server/v1/devices/cam-bvtw-01")
	pub(web, "ioc/server/v1/commands")
	pub(web, "ioc/server/v1/sync/ioc-web-1")
	cam, err := connectMosquitto(t, mq.URL, "cam-bvtw-01", "demo-cam-bvtw-01")
	if err != nil {
		t.Fatalf("cam-bvtw-01: %v", err)
	}
	pub(cam, "ioc/v1/vms-tn/cam-bvtw-01/status") // allowed: its own
	// Each forbidden publish on its own connection: Mosquitto disconnects
	// an MQTT 3.1.1 client that publishes outside its ACL.
	for _, f := range []struct{ user, topic string }{
		{"vms-tn", "ioc/v1/envsense/aq-tp-01/telemetry"},
		{"vms-tn", "ioc/v1/vms-tn/_errors"},
		{"vms-tn", "ioc/server/v1/alerts/x"},
		{"cam-bvtw-01", "ioc/v1/vms-tn/cam-bvtw-02/status"},
		{"envsense", "ioc/v1/vms-tn/cam-bvtw-01/status"},
		// Least privilege between the server processes.
		{"ioc-server", "ioc/v1/vms-tn/cam-bvtw-02/status"},
		{"ioc-server", "ioc/v1/envsense/_errors"},
		{"ioc-server", "ioc/server/v1/alerts/x"},
		{"ioc-ingest", "ioc/server/v1/commands"},
		{"ioc-ingest", "ioc/v1/vms-tn/cam-bvtw-04/status"},
	} {
		c, err := connectMosquitto(t, mq.URL, f.user, "demo-"+f.user)
		if err != nil {
			t.Fatalf("%s: %v", f.user, err)
		}
		pub(c, f.topic)
	}
	want := map[string]bool{"ioc/v1/vms-tn/cam-bvtw-03/status": true, "ioc/v1/vms-tn/cam-bvtw-01/status": true,
		"ioc/v1/vms-tn/_errors": true, "ioc/v1/envsense/_errors": true,
		"ioc/server/v1/devices/cam-bvtw-01": true, "ioc/server/v1/commands": true, "ioc/server/v1/sync/ioc-web-1": true}
	testenv.Eventually(t, 10*time.Second, func() error {
		if n := len(server.received()); n < len(want) {
			return fmt.Errorf("server received %d of %d allowed messages: %v", n, len(want), server.received())
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond)
	for _, topic := range server.received() {
		if !want[topic] {
			t.Errorf("Mosquitto let a forbidden publish through to %s", topic)
		}
	}
	if got := shared.received(); !slices.Contains(got, "ioc/v1/vms-tn/cam-bvtw-03/status") {
		t.Errorf("the ingest account's shared subscription received %v", got)
	}
	if got := web.received(); len(got) != 3 {
		t.Errorf("web received %v; want the server topics only (devices, commands, sync)", got)
	}
	if got := vms.received(); len(got) != 1 || got[0] != "ioc/v1/vms-tn/_errors" {
		t.Errorf("vms-tn received %v; want only its own errors topic", got)
	}
}

// TestMosquittoFilesNeedExplicitPaths: run outside the repository, as a
// sysadmin does, the command names the flags it needs instead of failing on
// a repository-relative default.
func TestMosquittoFilesNeedExplicitPaths(t *testing.T) {
	for _, args := range [][]string{
		{"-out", t.TempDir()},
		{"-credentials", "../../configs/credentials.yaml", "-out", t.TempDir()},
		{"-credentials", "../../configs/credentials.yaml", "-registry", "../../configs/devices.yaml"},
	} {
		var out, errb bytes.Buffer
		code := mosquittoFiles(args, &out, &errb)
		if code == 0 || !strings.Contains(errb.String(), "required, e.g. ingest mosquitto-files -credentials /etc/ioc/credentials.yaml") {
			t.Errorf("%q: exit %d, %q; want a usage error naming the missing flags", args, code, errb.String())
		}
		for _, f := range []string{"-credentials", "-registry", "-out"} {
			if !slices.Contains(args, f) && !strings.Contains(errb.String(), f+",") && !strings.Contains(errb.String(), f+" required") {
				t.Errorf("%q: the error %q does not name %s", args, errb.String(), f)
			}
		}
	}
}

// TestMosquittoFilesReadableByMosquitto: the files are written for the user
// Mosquitto 2.0 drops to before it reads them, never readable by others, and
// a real Mosquitto started as root (so running as user mosquitto, as
// Debian's service does) loads them and lets an account in.
func TestMosquittoFilesReadableByMosquitto(t *testing.T) {
	mqUser, err := user.Lookup("mosquitto")
	if os.Geteuid() != 0 || err != nil {
		t.Skip("needs root and the mosquitto user (Debian's mosquitto package); scripts/test and CI have both")
	}
	uid, _ := strconv.Atoi(mqUser.Uid)
	gid, _ := strconv.Atoi(mqUser.Gid)
	// A root the mosquitto user can walk, like / (t.TempDir's are 0700).
	root, err := os.MkdirTemp("", "ioc-mosquitto-files-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	etc, lib := filepath.Join(root, "etc"), filepath.Join(root, "lib")
	for _, d := range []string{root, etc, lib} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(lib, uid, gid); err != nil { // as the package does for /var/lib/mosquitto
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := mosquittoFiles([]string{"-credentials", "../../configs/credentials.yaml", "-registry", "../../configs/devices.yaml", "-out", etc}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, name := range []string{"ioc.passwd", "ioc.acl"} {
		fi, err := os.Stat(filepath.Join(etc, name))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != 0o640 || int(st.Uid) != uid || int(st.Gid) != gid {
			t.Errorf("%s: mode %04o owner %d:%d; want 0640 mosquitto:mosquitto (%d:%d)", name, fi.Mode().Perm(), st.Uid, st.Gid, uid, gid)
		}
	}
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	conf := filepath.Join(root, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous false\npassword_file %s\nacl_file %s\npersistence true\npersistence_location %s/\nlog_dest stderr\n",
		strings.TrimPrefix(addr, "127.0.0.1:"), filepath.Join(etc, "ioc.passwd"), filepath.Join(etc, "ioc.acl"), lib)), 0o644); err != nil {
		t.Fatal(err)
	}
	mq := testenv.StartMosquittoConfig(t, conf, addr)
	if _, err := connectMosquitto(t, mq.URL, "vms-tn", "demo-vms-tn"); err != nil {
		t.Fatalf("vms-tn could not connect to Mosquitto running as mosquitto: %v\n%s", err, mq.Log())
	}
}
