package access

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/registry"
)

func testRegistry(t testing.TB) *registry.Registry {
	r, err := registry.New(registry.File{
		Districts:   []registry.District{{ID: "d1", Name: "D1"}},
		Integrators: []registry.Integrator{{ID: "acme", Name: "A"}, {ID: "other", Name: "O"}},
		Devices: []registry.Device{
			{ID: "cam-01", Kind: registry.Camera, Name: "C1", District: "d1", Integrator: "acme"},
			{ID: "cam-99", Kind: registry.Camera, Name: "C9", District: "d1", Integrator: "other"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustHash(t testing.TB, pw string) string {
	h, err := Hash(pw, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestHashInteroperatesWithMosquitto: a hash made by mosquitto_passwd
// verifies here, so credentials files work for both brokers.
func TestHashInteroperatesWithMosquitto(t *testing.T) {
	bin, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		t.Fatal("mosquitto_passwd not found: run scripts/test, which installs mosquitto")
	}
	f := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(f, nil, 0o600)
	if out, err := exec.Command(bin, "-b", f, "alice", "s3cret-Đà-Nẵng").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	b, _ := os.ReadFile(f)
	hash := strings.TrimSpace(strings.TrimPrefix(string(b), "alice:"))
	if !Verify(hash, []byte("s3cret-Đà-Nẵng")) {
		t.Fatalf("mosquitto's hash %q does not verify", hash)
	}
	if Verify(hash, []byte("s3cret")) {
		t.Fatal("wrong password verified")
	}
	mine := mustHash(t, "pw")
	if !Verify(mine, []byte("pw")) || Verify(mine, []byte("pW")) {
		t.Fatal("own hash round trip")
	}
}

func TestPermissions(t *testing.T) {
	p, err := New(File{Accounts: []Account{
		{Username: "acme", PasswordHash: mustHash(t, "a"), Role: RoleIntegrator, Integrator: "acme", Subscribe: []string{"ioc/v1/acme/+/status"}},
		{Username: "cam-01", PasswordHash: mustHash(t, "c"), Role: RoleDevice, Integrator: "acme", Device: "cam-01"},
		{Username: "ingest", PasswordHash: mustHash(t, "i"), Role: RoleIngest},
		{Username: "web", PasswordHash: mustHash(t, "w"), Role: RoleWeb},
	}}, testRegistry(t))
	if err != nil {
		t.Fatal(err)
	}
	acme, _ := p.Account("acme")
	cam, _ := p.Account("cam-01")
	srv, _ := p.Account("ingest")
	web, _ := p.Account("web")
	pub := func(a *Account, topic string, want bool) {
		t.Helper()
		if got := a.CanPublish(topic); got != want {
			t.Errorf("%s CanPublish(%q) = %v, want %v", a.Username, topic, got, want)
		}
	}
	malformed := func(a *Account, topic string, want bool) {
		t.Helper()
		if got := a.OwnsMalformed(topic); got != want {
			t.Errorf("%s OwnsMalformed(%q) = %v, want %v", a.Username, topic, got, want)
		}
	}
	malformed(acme, "ioc/v1/acme/cam-01/status/x", true)
	malformed(acme, "ioc/v1/acme/x", true)
	malformed(acme, "ioc/v1/acme/_errors", false)
	malformed(acme, "ioc/v1/acme/+/status", false)
	malformed(acme, "ioc/v1/other/cam-01/status/x", false)
	malformed(acme, "ioc/v1/acmex/y", false)
	malformed(cam, "ioc/v1/acme/cam-01/status/x", true)
	malformed(cam, "ioc/v1/acme/cam-02/status/x", false)
	malformed(srv, "ioc/v1/acme/cam-01/status/x", false)
	malformed(web, "ioc/v1/acme/cam-01/status/x", false)
	sub := func(a *Account, filter string, want bool) {
		t.Helper()
		if got := a.CanSubscribe(filter); got != want {
			t.Errorf("%s CanSubscribe(%q) = %v, want %v", a.Username, filter, got, want)
		}
	}
	pub(acme, "ioc/v1/acme/cam-01/telemetry", true)
	pub(acme, "ioc/v1/acme/cam-77/status", true) // unknown devices are refused by ingest, with a reason
	pub(acme, "ioc/v1/other/cam-99/telemetry", false)
	pub(acme, "ioc/v1/acme/_errors", false)
	pub(acme, "ioc/v1/acme/cam-01/status/x", false)
	pub(acme, "ioc/server/alerts", false)
	pub(acme, "ioc/v1/acme/+/status", false)
	pub(cam, "ioc/v1/acme/cam-01/status", true)
	pub(cam, "ioc/v1/acme/cam-02/status", false)
	pub(srv, "ioc/v1/acme/_errors", true)
	pub(srv, "ioc/server/v1/alerts/r/cam-01", true)
	pub(srv, "ioc/server/v1/devices/cam-01", true)
	pub(srv, "ioc/server/v1/maintenance/device:cam-01", true)
	pub(srv, "ioc/server/v1/events", true)
	pub(srv, "ioc/server/v1/command-results", true)
	pub(srv, "ioc/server/v1/observations/ingest-2", true)
	pub(srv, "ioc/server/v1/commands", false) // operators' only
	pub(srv, "ioc/server/v1/sync/ioc-web-1", false)
	pub(srv, "ioc/v1/acme/cam-01/status", false) // no device data
	pub(web, "ioc/server/v1/commands", true)
	pub(web, "ioc/server/v1/sync/ioc-web-1", true)
	pub(web, "ioc/v1/acme/cam-01/status", false)
	pub(web, "ioc/v1/acme/_errors", false)
	pub(web, "ioc/server/v1/alerts/r/cam-01", false)
	pub(web, "ioc/server/v1/devices/cam-01", false)
	pub(web, "ioc/server/v1/events", false)
	if !acme.SendsDeviceData() || !cam.SendsDeviceData() || srv.SendsDeviceData() || web.SendsDeviceData() {
		t.Error("only integrator and device accounts send device data")
	}
	sub(acme, "ioc/v1/acme/_errors", true)
	sub(acme, "$share/g/ioc/v1/acme/_errors", true)
	sub(acme, "ioc/v1/acme/cam-01/status", true) // granted: ioc/v1/acme/+/status
	sub(acme, "ioc/v1/acme/+/status", true)
	sub(acme, "ioc/v1/acme/#", false)
	sub(acme, "ioc/v1/+/_errors", false)
	sub(acme, "ioc/v1/other/_errors", false)
	sub(acme, "#", false)
	sub(acme, "ioc/v1/acme/_errors/#", false)
	sub(acme, "ioc/v1/acme/cam-01/telemetry", false)
	sub(cam, "ioc/v1/acme/_errors", true)
	sub(cam, "ioc/v1/acme/+/status", false)
	sub(srv, "#", false)
	sub(srv, "$share/ingest/ioc/v1/#", true)
	sub(srv, "ioc/server/v1/commands", true)
	sub(srv, "ioc/server/v1/observations/+", true)
	sub(web, "ioc/server/v1/#", true)
	sub(web, "ioc/v1/#", false)
	sub(web, "ioc/v1/acme/_errors", true) // the integrator's page shows its refusals
	sub(web, "ioc/v1/+/_errors", true)
	sub(web, "ioc/v1/acme/+", false)
	sub(web, "ioc/v1/acme/cam-01/telemetry", false)

	if _, ok := p.Authenticate("acme", []byte("a")); !ok {
		t.Error("right password refused")
	}
	if _, ok := p.Authenticate("acme", []byte("a")); !ok {
		t.Error("right password refused from the cache")
	}
	if _, ok := p.Authenticate("acme", []byte("b")); ok {
		t.Error("wrong password accepted")
	}
	if _, ok := p.Authenticate("nobody", []byte("a")); ok {
		t.Error("unknown user accepted")
	}
}

func TestNewRefuses(t *testing.T) {
	h := mustHash(t, "x")
	f := func(a Account, want string) {
		t.Helper()
		_, err := New(File{Accounts: []Account{a}}, testRegistry(t))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("New(%+v) error %v, want %q", a, err, want)
		}
	}
	f(Account{Username: "a/b", PasswordHash: h, Role: RoleIngest}, "without + # /")
	f(Account{Username: "a+", PasswordHash: h, Role: RoleWeb}, "without + # /")
	f(Account{Username: "x", PasswordHash: "plaintext", Role: RoleIngest}, "account-password-hash")
	f(Account{Username: "x", PasswordHash: h, Role: "server"}, "role ingest and the IOC web server's account role web")
	f(Account{Username: "x", PasswordHash: h, Role: RoleWeb, Subscribe: []string{"ioc/v1/#"}}, "remove subscribe")
	f(Account{Username: "x", PasswordHash: h, Role: "admin"}, `role "admin"`)
	f(Account{Username: "x", PasswordHash: h, Role: RoleIntegrator, Integrator: "nobody"}, `integrator "nobody"`)
	f(Account{Username: "x", PasswordHash: h, Role: RoleDevice, Integrator: "acme", Device: "cam-99"}, `belongs to integrator "other"`)
	f(Account{Username: "x", PasswordHash: h, Role: RoleIntegrator, Integrator: "acme", Subscribe: []string{"ioc/v1/other/#"}}, "within ioc/v1/acme/#")
	f(Account{Username: "x", PasswordHash: h, Role: RoleIngest, Integrator: "acme"}, "no integrator")
}

func TestWithin(t *testing.T) {
	for _, c := range []struct {
		f, a string
		want bool
	}{
		{"a/b/c", "a/b/c", true}, {"a/b/c", "a/+/c", true}, {"a/+/c", "a/+/c", true}, {"a/b", "a/#", true},
		{"a/#", "a/#", true}, {"a", "a/#", true}, {"#", "a/#", false}, {"a/+/c", "a/b/c", false},
		{"a/b/c/d", "a/+/c", false}, {"a/b", "a/b/c", false}, {"a/#", "a/+", false},
	} {
		if got := within(c.f, c.a); got != c.want {
			t.Errorf("within(%q, %q) = %v, want %v", c.f, c.a, got, c.want)
		}
	}
}

// TestDisabledAccount: a disabled account keeps its place in the file but
// cannot authenticate, is left out of Mosquitto's files, and counts as
// changed for a reload (which closes its connections).
func TestDisabledAccount(t *testing.T) {
	reg := testRegistry(t)
	on := Account{Username: "acme", PasswordHash: mustHash(t, "pw"), Role: RoleIntegrator, Integrator: "acme"}
	off := on
	off.Disabled = true
	before, err := New(File{Accounts: []Account{on}}, reg)
	if err != nil {
		t.Fatal(err)
	}
	after, err := New(File{Accounts: []Account{off}}, reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := before.Authenticate("acme", []byte("pw")); !ok {
		t.Fatal("enabled account refused")
	}
	if _, ok := after.Authenticate("acme", []byte("pw")); ok {
		t.Error("disabled account authenticated")
	}
	if pw, _ := after.MosquittoFiles(); strings.Contains(string(pw), "acme:") {
		t.Errorf("disabled account in Mosquitto's password file:\n%s", pw)
	}
	if c := after.Diff(before); len(c.Changed) != 1 || c.Changed[0] != "acme" {
		t.Errorf("Diff = %+v, want acme changed", c)
	}
	if _, err := Parse([]byte("accounts:\n  - username: x\n    role: web\n    password_hash: nope\n"), reg); err == nil || !strings.HasPrefix(err.Error(), "line 2: ") {
		t.Errorf("Parse error %v, want one naming line 2", err)
	}
}

// TestMosquittoACLForWeb: the generated ACL gives the IOC web server's
// account read access to every integrator's _errors and to the server
// topics, and nothing of the devices' data.
func TestMosquittoACLForWeb(t *testing.T) {
	p, err := New(File{Accounts: []Account{
		{Username: "web", PasswordHash: mustHash(t, "w"), Role: RoleWeb},
	}}, testRegistry(t))
	if err != nil {
		t.Fatal(err)
	}
	_, acl := p.MosquittoFiles()
	got := string(acl)
	for _, want := range []string{"\nuser web\n", "\ntopic read ioc/server/v1/#\n", "\ntopic read ioc/v1/+/_errors\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("ACL lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "topic read ioc/v1/#") || strings.Contains(got, "topic write ioc/v1/") {
		t.Errorf("ACL gives the web server device data:\n%s", got)
	}
}

// TestMosquittoACLAlertOwner: only ingest accounts may write the alert
// owner's lease (and so be its last will); the web server may read it.
func TestMosquittoACLAlertOwner(t *testing.T) {
	p, err := New(File{Accounts: []Account{
		{Username: "ingest", PasswordHash: mustHash(t, "i"), Role: RoleIngest},
		{Username: "web", PasswordHash: mustHash(t, "w"), Role: RoleWeb},
	}}, testRegistry(t))
	if err != nil {
		t.Fatal(err)
	}
	_, acl := p.MosquittoFiles()
	ingestPart, webPart, ok := strings.Cut(strings.SplitN(string(acl), "\nuser ingest\n", 2)[1], "\nuser web\n")
	if !ok {
		t.Fatalf("ACL lacks the web user:\n%s", acl)
	}
	if !strings.Contains(ingestPart, "\ntopic write "+contract.AlertOwnerTopic+"\n") {
		t.Errorf("ingest may not write the lease:\n%s", acl)
	}
	if strings.Contains(webPart, "topic write "+contract.AlertOwnerTopic) || strings.Contains(webPart, "topic write ioc/server/v1/#") {
		t.Errorf("web may write the lease:\n%s", acl)
	}
}
