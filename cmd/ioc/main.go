// Command ioc serves the operations centre: the live wall, the technicians'
// phone pages, and the JSON API, fed by the alert service's topics on the
// broker and the time-series store.
//
//	ioc -config configs/ioc.yaml
//	ioc -h                          # every flag and its IOC_* environment variable
//	ioc user-password-hash               # a bcrypt hash for a user in configs/ioc.yaml
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/ioc-vn/ioc/internal/auth"
	"github.com/ioc-vn/ioc/internal/iocd"
	"github.com/ioc-vn/ioc/internal/lifecycle"
)

func main() {
	// Owner-only files for anything a library creates without a mode of
	// its own; the data_dir writers also set 0600/0700 explicitly.
	syscall.Umask(0o077)
	if len(os.Args) > 1 && (os.Args[1] == "user-password-hash" || os.Args[1] == "hash-password") { // hash-password: the old name, kept
		os.Exit(hashPassword())
	}
	if len(os.Args) > 1 && os.Args[1] == "all" {
		// The all-in-one links ingest, which this server does not.
		fmt.Fprintln(os.Stderr, "ioc: `ioc all` is its own command now: ioc-all (go build ./cmd/ioc-all; scripts/run builds and runs it)")
		os.Exit(2)
	}
	cfg, demo, err := load(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ioc:", err)
		os.Exit(2)
	}
	log := cfg.Log.Logger(os.Stderr)
	if len(demo) > 0 {
		log.Warn("demo mode: starting with the shipped demo secrets; anyone who has read the repository can log in with them", "secrets", strings.Join(demo, ", "))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reload := lifecycle.Reloads(ctx)
	if err := iocd.Run(ctx, cfg, iocd.Options{Log: log, Reload: reload}); err != nil {
		log.Error("ioc failed", "err", err)
		os.Exit(1)
	}
}

// load reads the configuration and refuses the shipped demo secrets (and
// an empty session secret) unless -demo (IOC_DEMO=true) says this is a
// demo; it returns those it accepted. ioc-all is the demo and is not
// checked.
func load(args []string, getenv func(string) string, usage io.Writer) (*iocd.Config, []string, error) {
	cfg, err := iocd.LoadConfig(args, getenv, usage)
	if err != nil {
		return nil, nil, err
	}
	demo := cfg.DemoSecrets()
	if len(demo) > 0 && !cfg.Demo {
		return nil, nil, fmt.Errorf("refusing to start with the shipped demo secrets: %s. Replace them (`ioc user-password-hash` for users, IOC_MQTT_PASSWORD, IOC_SESSION_SECRET of 32+ characters) or, for a demo, pass -demo (IOC_DEMO=true)", strings.Join(demo, ", "))
	}
	return cfg, demo, nil
}

// hashPassword reads a web user's password from stdin and prints its
// bcrypt hash for auth.users.
func hashPassword() int {
	fmt.Fprint(os.Stderr, "password: ")
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(os.Stderr, "ioc user-password-hash: no password on standard input")
		return 2
	}
	h, err := auth.HashPassword(strings.TrimRight(line, "\r\n"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "ioc user-password-hash:", err)
		return 2
	}
	fmt.Println(h)
	return 0
}
