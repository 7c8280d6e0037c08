// Package allinone runs the whole IOC in one process: ingest with its
// embedded broker, store and alert service; the IOC server; and, for a
// demo, the province simulator. Each part talks to the others as it would
// across machines (MQTT over loopback, the store's file or InfluxDB), so
// the same parts run as separate processes in production.
package allinone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/iocd"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/sim"
)

// Options are what Run needs besides the configuration.
type Options struct {
	Log *slog.Logger
	// Ready, if set, is called once every part runs, with the IOC server's
	// address.
	Ready func(addr net.Addr)
	// Reload receives a value on SIGHUP: ingest reloads its registry,
	// rules and credentials, the IOC server its registry.
	Reload <-chan struct{}
}

// Run runs every part until ctx ends or one fails, then stops them in
// reverse order: simulator, IOC server, ingest.
func Run(ctx context.Context, c *Config, o Options) error {
	log := o.Log
	type part struct {
		name   string
		cancel context.CancelFunc
		done   chan error
	}
	var parts []part
	failed := make(chan error, 3)
	start := func(name string, run func(ctx context.Context) error) part {
		pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		p := part{name, cancel, make(chan error, 1)}
		go func() {
			err := run(pctx)
			if err == nil && pctx.Err() == nil {
				err = errors.New("stopped by itself")
			}
			if err != nil && pctx.Err() == nil {
				failed <- fmt.Errorf("%s: %w", name, err)
			}
			p.done <- err
		}()
		parts = append(parts, p)
		return p
	}
	stopAll := func() {
		for i := len(parts) - 1; i >= 0; i-- {
			parts[i].cancel()
			<-parts[i].done
		}
	}
	waitFor := func(what string, ready <-chan struct{}) error {
		select {
		case <-ready:
			return nil
		case err := <-failed:
			stopAll()
			return err
		case <-ctx.Done():
			stopAll()
			return ctx.Err()
		case <-time.After(time.Minute):
			stopAll()
			return fmt.Errorf("%s did not start within a minute", what)
		}
	}

	// Each SIGHUP reaches both ingest and the IOC server.
	ingestReload, iocReload := make(chan struct{}, 1), make(chan struct{}, 1)
	fanCtx, stopFan := context.WithCancel(ctx)
	defer stopFan()
	go func() {
		for {
			select {
			case <-fanCtx.Done():
				return
			case <-o.Reload:
				for _, ch := range []chan struct{}{ingestReload, iocReload} {
					select {
					case ch <- struct{}{}:
					default: // one is pending already
					}
				}
			}
		}
	}()

	ingestReady := make(chan struct{})
	start("ingest", func(ctx context.Context) error {
		return ingestd.Run(ctx, &c.Ingest, ingestd.Options{Log: log.With("part", "ingest"), Reload: ingestReload,
			Started: func(string) { close(ingestReady) }})
	})
	if err := waitFor("ingest", ingestReady); err != nil {
		return err
	}
	iocReady := make(chan net.Addr, 1)
	start("ioc", func(ctx context.Context) error {
		return iocd.Run(ctx, &c.IOC, iocd.Options{Log: log.With("part", "ioc"), Reload: iocReload, Listening: func(a net.Addr) { iocReady <- a }})
	})
	var addr net.Addr
	select {
	case addr = <-iocReady:
	case err := <-failed:
		stopAll()
		return err
	case <-ctx.Done():
		stopAll()
		return nil
	}
	if c.Simulate {
		reg, err := registry.Load(c.Ingest.Registry)
		if err != nil {
			stopAll()
			return err
		}
		s := sim.New(c.Simulator, reg, log.With("part", "simulator"))
		start("simulator", s.Run)
	}
	if o.Ready != nil {
		o.Ready(addr)
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-failed:
		log.Error("stopping everything", "err", err)
	}
	stopAll()
	return err
}
