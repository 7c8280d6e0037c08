// Command ingest subscribes to device topics over MQTT, validates and parses
// each message, stores its points in InfluxDB (or the embedded store) and
// acknowledges it only once stored. With no broker configured it runs an
// embedded MQTT broker for devices to connect to.
//
//	ingest                       # embedded broker on :1883, embedded store in ./data
//	ingest -config configs/ingest.yaml
//	ingest -h                    # every flag and its IOC_* environment variable
//	ingest hash-password -generate          # a secret and its hash for configs/credentials.yaml
//	ingest mosquitto-files -out /etc/mosquitto   # ioc.passwd and ioc.acl for an external Mosquitto
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ioc-vn/ioc/internal/config"
	"github.com/ioc-vn/ioc/internal/ingestd"
)

func main() {
	if ran, code := tool(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); ran {
		os.Exit(code)
	}
	cfg, err := config.Load(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(2)
	}
	log := cfg.Log.Logger(os.Stderr)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reload := make(chan struct{}, 1)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()

	if err := ingestd.Run(ctx, cfg, ingestd.Options{Log: log, Reload: reload}); err != nil {
		log.Error("ingest failed", "err", err)
		os.Exit(1)
	}
}
