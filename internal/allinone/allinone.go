// Package allinone runs the whole IOC in one process: ingest with its
// embedded broker, store and alert service; the IOC server; and, for a
// demo, the province simulator. Each part talks to the others as it would
// across machines (MQTT over loopback, the store's file or InfluxDB), so
// the same parts run as separate processes in production.
package allinone

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/ioc-vn/ioc/internal/ingestd"
	"github.com/ioc-vn/ioc/internal/iocd"
	"github.com/ioc-vn/ioc/internal/lifecycle"
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
	in, err := ingestd.New(ctx, &c.Ingest, ingestd.Options{Log: log.With("part", "ingest")})
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	// The IOC server's provisioning edits ingest's files and reloads it.
	ioc, err := iocd.New(ctx, &c.IOC, iocd.Options{Log: log.With("part", "ioc"), ReloadIngest: func() error {
		_, err := in.Reload()
		return err
	}})
	if err != nil {
		in.Close()
		return fmt.Errorf("ioc: %w", err)
	}
	var g lifecycle.Group
	// Ingest serves its broker before the IOC server and the simulator
	// connect to it; they stop before it.
	g.Add("ingest", in.Start, in.Wait)
	g.Add("ioc", ioc.Start, ioc.Wait)
	if c.Simulate {
		reg, err := registry.Load(c.Ingest.Registry)
		if err != nil {
			in.Close()
			ioc.Close()
			return err
		}
		g.Add("simulator", nil, sim.New(c.Simulator, reg, log.With("part", "simulator")).Run)
	}
	// Each SIGHUP reaches both ingest and the IOC server.
	g.Add("reload", nil, func(ctx context.Context) error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-o.Reload:
				_, _ = in.Reload()
				_, _ = ioc.Reload()
			}
		}
	})
	if err := g.Start(ctx); err != nil {
		in.Close() // if it never started
		ioc.Close()
		return err
	}
	if o.Ready != nil {
		o.Ready(ioc.Addr())
	}
	if err := g.Wait(ctx); err != nil {
		log.Error("stopping everything", "err", err)
		return err
	}
	return nil
}
