// Package lifecycle runs a process's parts as a group: each is built
// beforehand by its owner, then started in order and stopped in reverse,
// and a part that stops by itself is a failure that stops the group, as
// oklog/run does. It holds the start and stop order of ingest, the IOC
// server and the all-in-one process in one tested place.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Group is the parts of a process, in start order.
type Group struct {
	parts   []part
	running []*running
	failed  chan error
}

type part struct {
	name  string
	start func(ctx context.Context) error
	run   func(ctx context.Context) error
}

type running struct {
	name string
	stop context.CancelFunc
	done chan error
}

// Add appends a part. start, if not nil, runs before the next part starts
// (listen, connect, subscribe) with Start's context; run then runs until
// its own context ends, stops the part and returns. Returning earlier,
// with or without an error, is a failure.
func (g *Group) Add(name string, start func(ctx context.Context) error, run func(ctx context.Context) error) {
	g.parts = append(g.parts, part{name, start, run})
}

// Start starts the parts in order. If a start fails, or a part started
// already stops meanwhile, it stops those started and returns why.
func (g *Group) Start(ctx context.Context) error {
	g.failed = make(chan error, len(g.parts))
	for _, p := range g.parts {
		err := error(nil)
		if p.start != nil {
			err = p.start(ctx)
		}
		if err == nil {
			g.goRun(p)
			select {
			case err = <-g.failed:
			default:
				continue
			}
		} else {
			err = fmt.Errorf("%s: %w", p.name, err)
		}
		return errors.Join(err, g.stop())
	}
	return nil
}

func (g *Group) goRun(p part) {
	ctx, stop := context.WithCancel(context.Background())
	r := &running{p.name, stop, make(chan error, 1)}
	g.running = append(g.running, r)
	go func() {
		err := p.run(ctx)
		if ctx.Err() == nil { // reported here, not again when stopped
			if err == nil {
				err = errors.New("returned without an error")
			}
			g.failed <- fmt.Errorf("%s stopped by itself: %w", p.name, err)
			err = nil
		}
		r.done <- err
	}()
}

// Wait runs until ctx ends or a part fails, then stops the parts in
// reverse order, each once the one started after it has returned. It
// returns the failure, if any, and the errors the parts returned.
func (g *Group) Wait(ctx context.Context) error {
	var err error
	select {
	case <-ctx.Done():
	case err = <-g.failed:
	}
	return errors.Join(err, g.stop())
}

// Run is Start, then Wait.
func (g *Group) Run(ctx context.Context) error {
	if err := g.Start(ctx); err != nil {
		return err
	}
	return g.Wait(ctx)
}

func (g *Group) stop() error {
	var errs []error
	for i := len(g.running) - 1; i >= 0; i-- {
		r := g.running[i]
		r.stop()
		if err := <-r.done; err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, fmt.Errorf("%s: %w", r.name, err))
		}
	}
	g.running = nil
	return errors.Join(errs...)
}

// Reloads delivers a value for each SIGHUP until ctx ends; signals that
// come while one is pending are folded into it. Each process reads it in
// one place and reloads everything it owns there.
func Reloads(ctx context.Context) <-chan struct{} {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	out := make(chan struct{}, 1)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out
}
