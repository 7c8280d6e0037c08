package broker

import (
	"io"
	"os"

	pebbledb "github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
)

// privatePebble is the options of the session and retained-message store:
// its files are 0600 and its directories 0700 whatever the umask, since
// they hold other clients' queued messages.
func privatePebble() *pebbledb.Options {
	return &pebbledb.Options{FS: privateFS{vfs.Default}}
}

// privateFS is pebble's file system with owner-only modes on what it
// creates.
type privateFS struct{ vfs.FS }

func private(name string, f vfs.File, err error) (vfs.File, error) {
	if err == nil {
		err = os.Chmod(name, 0o600)
	}
	return f, err
}

func (p privateFS) Create(name string) (vfs.File, error) {
	f, err := p.FS.Create(name)
	return private(name, f, err)
}

func (p privateFS) OpenReadWrite(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := p.FS.OpenReadWrite(name, opts...)
	return private(name, f, err)
}

func (p privateFS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	f, err := p.FS.ReuseForWrite(oldname, newname)
	return private(newname, f, err)
}

func (p privateFS) Lock(name string) (io.Closer, error) {
	c, err := p.FS.Lock(name)
	if err == nil {
		err = os.Chmod(name, 0o600)
	}
	return c, err
}

func (p privateFS) MkdirAll(dir string, _ os.FileMode) error {
	if err := p.FS.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}
