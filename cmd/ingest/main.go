// Command ingest subscribes to device topics over MQTT, validates and parses
// each message, stores its points in InfluxDB (or the embedded store) and
// acknowledges it only once stored. With no broker configured it runs an
// embedded MQTT broker for devices to connect to.
//
//	ingest                       # embedded broker on :1883, embedded store in ./data
//	ingest -config configs/ingest.yaml
//	ingest -h                    # every flag and its IOC_* environment variable
//	ingest account-password-hash -generate          # a secret and its hash for configs/credentials.yaml
//	ingest mosquitto-files -credentials /etc/ioc/credentials.yaml -registry /etc/ioc/devices.yaml -out /etc/mosquitto
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/lifecycle"
)

func main() {
	// Owner-only files for anything a library creates without a mode of
	// its own; the data_dir writers also set 0600/0700 explicitly.
	syscall.Umask(0o077)
	if ran, code := tool(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); ran {
		os.Exit(code)
	}
	cfg, demo, err := load(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(2)
	}
	log := cfg.Log.Logger(os.Stderr)
	if len(demo) > 0 {
		log.Warn("demo mode: starting with the shipped demo secrets; anyone who has read the repository can log in with them", "secrets", strings.Join(demo, ", "))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reload := lifecycle.Reloads(ctx)

	if err := ingestd.Run(ctx, cfg, ingestd.Options{Log: log, Reload: reload}); err != nil {
		log.Error("ingest failed", "err", err)
		os.Exit(1)
	}
}

// load reads the configuration and refuses the shipped demo secrets unless
// -demo (IOC_DEMO=true) says this is a demo; it returns those it accepted.
func load(args []string, getenv func(string) string, usage io.Writer) (*ingestd.Config, []string, error) {
	cfg, err := ingestd.LoadConfig(args, getenv, usage)
	if err != nil {
		return nil, nil, err
	}
	demo := cfg.DemoSecrets()
	if len(demo) > 0 && !cfg.Demo {
		return nil, nil, fmt.Errorf("refusing to start with the shipped demo secrets: %s. Replace them (`ingest account-password-hash -generate` makes a secret and its hash) or, for a demo, pass -demo (IOC_DEMO=true)", strings.Join(demo, ", "))
	}
	return cfg, demo, nil
}
