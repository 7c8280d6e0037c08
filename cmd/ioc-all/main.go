// Command ioc-all runs the whole IOC in one process: ingest with its
// embedded broker, store and alert service, the IOC server, and a
// simulated province (scripts/run). A district or a pilot runs on it; the
// same parts run as the separate ingest and ioc commands in production.
//
//	ioc-all -config configs/all-in-one.yaml
//	ioc-all -h                  # every flag and its IOC_* environment variable
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/ioc-vn/ioc/internal/allinone"
	"github.com/ioc-vn/ioc/internal/auth"
	"github.com/ioc-vn/ioc/internal/lifecycle"
)

func main() {
	// Owner-only files for anything a library creates without a mode of
	// its own; the data_dir writers also set 0600/0700 explicitly.
	syscall.Umask(0o077)
	os.Exit(run(os.Args[1:]))
}

// run runs ingest, the IOC server and the simulator in one process and
// prints where to look.
func run(args []string) int {
	cfg, err := allinone.LoadConfig(args, os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ioc-all:", err)
		return 2
	}
	log := cfg.IOC.Log.Logger(os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reload := lifecycle.Reloads(ctx)
	err = allinone.Run(ctx, cfg, allinone.Options{Log: log, Reload: reload, Ready: func(a net.Addr) { welcome(os.Stdout, cfg, a) }})
	if err != nil {
		log.Error("ioc-all failed", "err", err)
		return 1
	}
	return 0
}

// welcome prints the wall's address and who can log in. A user whose
// password is still the demo one is shown with it, and flagged.
func welcome(w io.Writer, cfg *allinone.Config, addr net.Addr) {
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	scheme := "http"
	if cfg.IOC.TLSCert != "" {
		scheme = "https"
	}
	base := scheme + "://" + net.JoinHostPort(host, port)
	fmt.Fprintf(w, "\nIOC is running.\n  Wall:            %s/wall/\n  Technician page: %s/tech/\n  API:             %s/api/openapi.yaml\n", base, base, base)
	if cfg.Simulate {
		fmt.Fprintf(w, "  Simulated province from %s; incidents start within seconds.\n", cfg.Ingest.Registry)
	}
	fmt.Fprintf(w, "  MQTT broker:     %s (accounts in %s)\n  Logins:\n", cfg.Simulator.Broker, cfg.Ingest.Credentials)
	for _, u := range cfg.IOC.Auth.Users {
		demo := "demo-" + u.Username
		if auth.CheckPassword(u.PasswordHash, demo) {
			fmt.Fprintf(w, "    %-12s %-10s password %s (demo: replace before production)\n", u.Username, u.Role, demo)
		} else {
			fmt.Fprintf(w, "    %-12s %s\n", u.Username, u.Role)
		}
	}
	fmt.Fprintln(w)
}
