package main

import (
	"bufio"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	case "hash-password":
		return true, hashPassword(args[1:], stdin, stdout, stderr)
	case "mosquitto-files":
		return true, mosquittoFiles(args[1:], stdout, stderr)
	}
	return false, 0
}

// hashPassword prints a credentials-file hash of a password read from
// standard input, or of a random one it prints first (-generate).
func hashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hash-password", flag.ContinueOnError)
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
			fmt.Fprintln(stderr, "hash-password: give the password on standard input, or use -generate")
			return 2
		}
		secret = strings.TrimRight(line, "\r\n")
	}
	h, err := access.Hash(secret, *iterations)
	if err != nil {
		fmt.Fprintln(stderr, "hash-password:", err)
		return 1
	}
	fmt.Fprintln(stdout, h)
	return 0
}

// mosquittoFiles writes Mosquitto's password and ACL files from the
// credentials file, so an external Mosquitto enforces the same accounts.
func mosquittoFiles(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mosquitto-files", flag.ContinueOnError)
	fs.SetOutput(stderr)
	creds := fs.String("credentials", "configs/credentials.yaml", "accounts file")
	reg := fs.String("registry", "configs/devices.yaml", "device registry")
	out := fs.String("out", ".", "directory for ioc.passwd and ioc.acl")
	if fs.Parse(args) != nil {
		return 2
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
	for name, b := range map[string][]byte{"ioc.passwd": passwd, "ioc.acl": acl} {
		path := filepath.Join(*out, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			fmt.Fprintln(stderr, "mosquitto-files:", err)
			return 1
		}
		fmt.Fprintln(stdout, "wrote", path)
	}
	return 0
}
