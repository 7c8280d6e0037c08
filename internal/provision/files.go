// Package provision edits the device registry and the credentials file for
// the people who onboard integrators and devices: add, disable and delete
// integrators and devices, generate and rotate account secrets, import a
// device list from CSV or Excel.
//
// Both files stay plain YAML that people read and keep in git. An edit
// keeps every comment and every entry it does not touch byte for byte; new
// integrators and devices are written one per line in flow style, new
// accounts as block mappings, as the shipped files are. A change is checked
// as a whole with the loaders the processes use (registry.Parse and
// access.Parse) before anything is written; if either refuses it, nothing
// is written and the error lists every problem with its line. Each file is
// written atomically: a temporary file in the same directory, fsynced, then
// renamed over the old one.
package provision

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"

	"github.com/ioc-vn/ioc/internal/access"
	"github.com/ioc-vn/ioc/internal/registry"
	"gopkg.in/yaml.v3"
)

// Files edits one registry file and one credentials file.
type Files struct {
	registry, credentials string
	// rename is os.Rename; tests make it fail.
	rename func(oldpath, newpath string) error

	mu sync.Mutex // one change at a time
}

// New edits the registry at registryPath and the credentials at
// credentialsPath.
func New(registryPath, credentialsPath string) *Files {
	return &Files{registry: registryPath, credentials: credentialsPath, rename: os.Rename}
}

// Set is both files decoded: change its slices, Apply writes them.
type Set struct {
	Registry registry.File
	Accounts []access.Account

	regDoc, credDoc   yaml.Node
	regText, credText []byte // as read
}

// Refused is a change the loaders refused: nothing was written.
type Refused struct {
	Errors []string
}

func (e *Refused) Error() string {
	return "change refused, nothing written: " + strings.Join(e.Errors, "; ")
}

// Read decodes both files as they are.
func (f *Files) Read() (*Set, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.read()
}

func (f *Files) read() (*Set, error) {
	var s Set
	var err error
	if s.regText, err = decodeFile(f.registry, &s.regDoc, &s.Registry); err != nil {
		return nil, fmt.Errorf("device registry: %w", err)
	}
	var cf access.File
	if s.credText, err = decodeFile(f.credentials, &s.credDoc, &cf); err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	s.Accounts = cf.Accounts
	return &s, nil
}

func decodeFile(path string, doc *yaml.Node, v any) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(b, doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a YAML mapping", path)
	}
	if err := doc.Decode(v); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// Apply reads both files, lets change edit them, checks the result with
// the registry and credentials loaders and writes the files that changed.
// An error from change, or a *Refused from the loaders, leaves both files
// as they were. It returns the registry now in force in the files.
func (f *Files) Apply(change func(*Set) error) (*registry.Registry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.read()
	if err != nil {
		return nil, err
	}
	readReg, readCred := s.regText, s.credText
	before := s.ids()
	if err := change(s); err != nil {
		return nil, err
	}
	regText, err := s.renderRegistry()
	if err != nil {
		return nil, err
	}
	credText, err := s.renderCredentials()
	if err != nil {
		return nil, err
	}
	reg, err := Check(regText, credText)
	if err != nil {
		return nil, err
	}
	shrinks := false
	after := s.ids()
	for id := range before {
		if !after[id] {
			shrinks = true
		}
	}
	return reg, f.write(readReg, readCred, regText, credText, shrinks)
}

// ids are the registry's integrator and device ids.
func (s *Set) ids() map[string]bool {
	m := map[string]bool{}
	for _, in := range s.Registry.Integrators {
		m["i\x00"+in.ID] = true
	}
	for _, d := range s.Registry.Devices {
		m["d\x00"+d.ID] = true
	}
	return m
}

// Check validates a registry text and a credentials text together, with
// the loaders the processes use; a *Refused lists every problem, each with
// its line where known.
func Check(regText, credText []byte) (*registry.Registry, error) {
	reg, err := registry.Parse(regText)
	if err != nil {
		return nil, &Refused{Errors: registryLines(regText, err)}
	}
	if _, err := access.Parse(credText, reg); err != nil {
		var out []string
		for _, l := range strings.Split(err.Error(), "\n") {
			out = append(out, "credentials: "+l)
		}
		return nil, &Refused{Errors: out}
	}
	return reg, nil
}

var entryRef = regexp.MustCompile(`^(device|integrator) "([^"]*)"`)

// registryLines splits the registry loader's errors and starts each that
// names a device or integrator with its line in text.
func registryLines(text []byte, err error) []string {
	lines := map[string]int{}
	var doc yaml.Node
	if yaml.Unmarshal(text, &doc) == nil && len(doc.Content) > 0 {
		m := doc.Content[0]
		for i := 0; i+1 < len(m.Content); i += 2 {
			kind := strings.TrimSuffix(m.Content[i].Value, "s")
			if kind != "device" && kind != "integrator" {
				continue
			}
			for _, e := range m.Content[i+1].Content {
				if id := mapValue(e, "id"); id != nil {
					lines[kind+"\x00"+id.Value] = e.Line
				}
			}
		}
	}
	var out []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if m := entryRef.FindStringSubmatch(l); m != nil {
			if n, ok := lines[m[1]+"\x00"+m[2]]; ok {
				l = fmt.Sprintf("line %d: %s", n, l)
			}
		}
		out = append(out, "device registry: "+l)
	}
	return out
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// renderRegistry writes the integrators and devices back into the
// registry's YAML document: entries that did not change keep their node
// (and so their text and comments), the others are new flow mappings.
func (s *Set) renderRegistry() ([]byte, error) {
	root := s.regDoc.Content[0]
	ins := sequence(root, "integrators")
	var err error
	if ins.Content, err = reuse(ins.Content, s.Registry.Integrators, func(in registry.Integrator) string { return in.ID }, flowEntry[registry.Integrator]); err != nil {
		return nil, err
	}
	devs := sequence(root, "devices")
	if devs.Content, err = reuse(devs.Content, s.Registry.Devices, func(d registry.Device) string { return d.ID }, flowEntry[registry.Device]); err != nil {
		return nil, err
	}
	return encode(&s.regDoc)
}

func (s *Set) renderCredentials() ([]byte, error) {
	root := s.credDoc.Content[0]
	accts := sequence(root, "accounts")
	var err error
	if accts.Content, err = reuse(accts.Content, s.Accounts, func(a access.Account) string { return a.Username }, accountEntry); err != nil {
		return nil, err
	}
	return encode(&s.credDoc)
}

// sequence returns the block sequence under key in the mapping root,
// adding the key at the end if it is missing.
func sequence(root *yaml.Node, key string) *yaml.Node {
	if n := mapValue(root, key); n != nil {
		if n.Kind != yaml.SequenceNode { // "devices:" with nothing under it
			*n = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		}
		n.Style = 0
		return n
	}
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, n)
	return n
}

// reuse returns the nodes for items in order: an item whose old node
// decodes to the same value keeps that node, others get a fresh one.
func reuse[T any](old []*yaml.Node, items []T, id func(T) string, fresh func(T) (*yaml.Node, error)) ([]*yaml.Node, error) {
	byID := map[string]*yaml.Node{}
	for _, n := range old {
		var v T
		if n.Decode(&v) == nil {
			byID[id(v)] = n
		}
	}
	out := make([]*yaml.Node, 0, len(items))
	for _, it := range items {
		if n, ok := byID[id(it)]; ok {
			var v T
			if n.Decode(&v) == nil && reflect.DeepEqual(v, it) {
				out = append(out, n)
				continue
			}
		}
		n, err := fresh(it)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// flowEntry encodes v as one flow mapping on one line, names in quotes.
func flowEntry[T any](v T) (*yaml.Node, error) {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return nil, err
	}
	var flow func(*yaml.Node)
	flow = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			n.Style = yaml.FlowStyle
			for i := 0; i+1 < len(n.Content); i += 2 {
				if k, v := n.Content[i], n.Content[i+1]; k.Value == "name" && v.Kind == yaml.ScalarNode {
					v.Style = yaml.DoubleQuotedStyle
				}
				flow(n.Content[i+1])
			}
		}
	}
	flow(&n)
	return &n, nil
}

// accountEntry encodes an account as the shipped file writes them: a block
// mapping, username first, the hash in quotes.
func accountEntry(a access.Account) (*yaml.Node, error) {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	add := func(k, v string, style yaml.Style) {
		if v != "" {
			m.Content = append(m.Content,
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k},
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Style: style})
		}
	}
	add("username", a.Username, 0)
	add("role", string(a.Role), 0)
	add("integrator", a.Integrator, 0)
	add("device", a.Device, 0)
	if a.Disabled {
		m.Content = append(m.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "disabled"},
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
	}
	add("password_hash", a.PasswordHash, yaml.DoubleQuotedStyle)
	if len(a.Subscribe) > 0 {
		var sub yaml.Node
		if err := sub.Encode(a.Subscribe); err != nil {
			return nil, err
		}
		sub.Style = yaml.FlowStyle
		for _, s := range sub.Content {
			s.Style = yaml.DoubleQuotedStyle
		}
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "subscribe"}, &sub)
	}
	return m, nil
}

func encode(doc *yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	e := yaml.NewEncoder(&b)
	e.SetIndent(2)
	if err := e.Encode(doc); err != nil {
		return nil, err
	}
	if err := e.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// write puts the files that changed in place. If either file is no
// longer what the change was made from (someone edited it meanwhile: by
// hand, or another IOC server), nothing is written and the change is a
// conflict to try again. The registry goes first, so that a process
// reading between the two renames finds every entry the credentials name,
// unless the registry shrinks (its entries' accounts go first then). If
// the second write fails the first file is put back.
func (f *Files) write(readReg, readCred, regText, credText []byte, shrinks bool) error {
	oldReg, err := os.ReadFile(f.registry)
	if err != nil {
		return err
	}
	oldCred, err := os.ReadFile(f.credentials)
	if err != nil {
		return err
	}
	if !bytes.Equal(oldReg, readReg) || !bytes.Equal(oldCred, readCred) {
		return fmt.Errorf("%w: the registry or credentials file changed while this change was made; nothing written, try again", ErrConflict)
	}
	type file struct {
		path     string
		old, new []byte
	}
	order := []file{{f.registry, oldReg, regText}, {f.credentials, oldCred, credText}}
	if shrinks {
		order[0], order[1] = order[1], order[0]
	}
	var done []file
	for _, w := range order {
		if bytes.Equal(w.old, w.new) {
			continue
		}
		if err := f.writeAtomic(w.path, w.new); err != nil {
			for _, d := range done {
				if rerr := f.writeAtomic(d.path, d.old); rerr != nil {
					err = errors.Join(err, fmt.Errorf("restoring %s: %w", d.path, rerr))
				}
			}
			return err
		}
		done = append(done, w)
	}
	return nil
}

// writeAtomic replaces path with data: a temporary file beside it, synced,
// with path's permissions, renamed over it, then the directory synced. A
// symbolic link (say /etc/ioc/devices.yaml into a git checkout) stays a
// link: its target is replaced.
func (f *Files) writeAtomic(path string, data []byte) (err error) {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	mode := os.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
