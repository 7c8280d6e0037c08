package main

import (
	"bufio"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ioc-vn/ioc/internal/access"
	"github.com/ioc-vn/ioc/internal/registry"
)

// tool runs a subcommand and reports whether args named one.
func tool(args []string, stdin io.Reader, stdout, stderr io.Writer) (ran bool, code int) {
	if len(args) == 0 {
		return false, 0
	}
	switch args[0] {
	case "account-password-hash", "hash-password": // hash-password: the old name, kept
		return true, hashPassword(args[1:], stdin, stdout, stderr)
	case "mosquitto-files":
		return true, mosquittoFiles(args[1:], stdout, stderr)
	}
	return false, 0
}

// hashPassword prints an MQTT/HTTP account's hash for the credentials file
// (PBKDF2, Mosquitto's $7$) of a password read from standard input, or of a
// random one it prints first (-generate).
func hashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("account-password-hash", flag.ContinueOnError)
	fs.SetOutput(stderr)
	generate := fs.Bool("generate", false, "make a random secret, print it, then its hash")
	iterations := fs.Int("iterations", access.DefaultIterations, "PBKDF2-SHA512 iterations")
	if fs.Parse(args) != nil {
		return 2
	}
	var secret string
	if *generate {
		secret = rand.Text()
		fmt.Fprintln(stdout, "secret:", secret)
	} else {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			fmt.Fprintln(stderr, "account-password-hash: give the password on standard input, or use -generate")
			return 2
		}
		secret = strings.TrimRight(line, "\r\n")
	}
	h, err := access.Hash(secret, *iterations)
	if err != nil {
		fmt.Fprintln(stderr, "account-password-hash:", err)
		return 1
	}
	fmt.Fprintln(stdout, h)
	return 0
}

// mosquittoFiles writes Mosquitto's password and ACL files from the
// credentials file, so an external Mosquitto enforces the same accounts.
// Every path is explicit: the command is run on a server, from any
// directory, where no repository-relative default would resolve. The files
// go to the user Mosquitto runs as (-owner, mosquitto by default: Mosquitto
// 2.0 drops to it before it reads them) with its group, mode 0640, never
// readable by others; with -owner "" they stay the caller's, mode 0600.
func mosquittoFiles(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mosquitto-files", flag.ContinueOnError)
	fs.SetOutput(stderr)
	creds := fs.String("credentials", "", "accounts file (required), e.g. /etc/ioc/credentials.yaml")
	reg := fs.String("registry", "", "device registry (required: device accounts must name registered devices), e.g. /etc/ioc/devices.yaml")
	out := fs.String("out", "", "directory for ioc.passwd and ioc.acl (required), e.g. /etc/mosquitto")
	owner := fs.String("owner", "mosquitto", `user Mosquitto runs as; the files are given to it and its group, mode 0640 ("": keep the caller's, mode 0600)`)
	if fs.Parse(args) != nil {
		return 2
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"-credentials", *creds}, {"-registry", *reg}, {"-out", *out}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(stderr, "mosquitto-files: %s required, e.g. ingest mosquitto-files -credentials /etc/ioc/credentials.yaml -registry /etc/ioc/devices.yaml -out /etc/mosquitto\n", strings.Join(missing, ", "))
		return 2
	}
	uid, gid, mode := -1, -1, os.FileMode(0o600)
	if *owner != "" {
		u, err := user.Lookup(*owner)
		if err != nil {
			fmt.Fprintf(stderr, "mosquitto-files: -owner %s: %v (install Mosquitto first, which creates its user, or pass -owner \"\" and chown the files to the user Mosquitto runs as)\n", *owner, err)
			return 1
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		mode = 0o640
	}
	r, err := registry.Load(*reg)
	if err != nil {
		fmt.Fprintln(stderr, "mosquitto-files:", err)
		return 1
	}
	p, err := access.Load(*creds, r)
	if err != nil {
		fmt.Fprintln(stderr, "mosquitto-files:", err)
		return 1
	}
	passwd, acl := p.MosquittoFiles()
	for _, f := range []struct {
		name string
		b    []byte
	}{{"ioc.passwd", passwd}, {"ioc.acl", acl}} {
		path := filepath.Join(*out, f.name)
		if err := writeOwned(path, f.b, mode, uid, gid); err != nil {
			fmt.Fprintln(stderr, "mosquitto-files:", err)
			return 1
		}
		if *owner != "" {
			fmt.Fprintf(stdout, "wrote %s (mode %04o, owner %s)\n", path, mode, *owner)
		} else {
			fmt.Fprintf(stdout, "wrote %s (mode %04o)\n", path, mode)
		}
	}
	return 0
}

// writeOwned replaces path with b, mode and owner set before the file gets
// its name: a reloading Mosquitto never reads a half-written or unreadable
// file. uid and gid -1 keep the caller's.
func writeOwned(path string, b []byte, mode os.FileMode, uid, gid int) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after the rename, a no-op
	err = f.Chmod(mode)
	if err == nil && (uid >= 0 || gid >= 0) {
		if err = f.Chown(uid, gid); err != nil {
			err = fmt.Errorf("%w (run as root, or pass -owner \"\" and chown the files to the user Mosquitto runs as)", err)
		}
	}
	if err == nil {
		_, err = f.Write(b)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(f.Name(), path)
}
