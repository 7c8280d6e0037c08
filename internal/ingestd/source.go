package ingestd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ioc-vn/ioc/internal/alertd"
	"github.com/ioc-vn/ioc/internal/broker"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/mqttsub"
	"github.com/ioc-vn/ioc/internal/quota"
)

// buildSource makes the embedded broker, or the subscription to an
// external one; either hands device messages to the window.
func (in *Ingest) buildSource(context.Context) error {
	c := in.c
	if !c.EmbeddedBroker() {
		mc := c.MQTT
		if c.Alerts.Lease.Enabled {
			mc.Will = will(mc.ClientID)
		}
		client := mqttsub.New(mc, in.log, func(m mqttsub.Message) { in.window.Handle(m) })
		in.src = &subscription{Client: client, log: in.log, broker: c.MQTT.Broker, clientID: c.MQTT.ClientID}
		return nil
	}
	policy := in.policy
	if c.Broker.AllowAnonymous {
		policy = nil
		in.log.Warn("embedded broker allows anonymous clients to publish and subscribe anywhere: for a demo only")
	}
	quotas := quota.New(c.Quotas)
	intake := func(m *broker.Message) { in.window.Handle(m) }
	if quotas.Enabled() {
		intake = func(m *broker.Message) {
			slowDown(in.window.Done(), in.reports, quotas, m.Topic(), len(m.Payload()))
			in.window.Handle(m)
		}
	}
	bc := c.Broker
	bc.DataDir = c.DataDir
	if bc.ClientQueue == 0 {
		// Room for an IOC server's resync (a retained state per device,
		// plus alerts and maintenance windows) with headroom for devices
		// added by a reload.
		bc.ClientQueue = broker.DefaultClientQueue + 2*in.reg.Len()
	}
	b, err := broker.New(bc, broker.Deps{
		Log: in.log, Metrics: in.metrics, IntakePrefix: contract.DevicePrefix,
		Intake: intake, Access: policy, Guesses: in.guesses,
		// The alert service retains a state per device, its alerts and
		// maintenance windows; nothing else is retained.
		Retained: broker.RetainLimitsFor(in.reg.Len(), len(in.reg.Districts())),
	})
	if err != nil {
		return err
	}
	in.src = &embeddedSource{Broker: b, log: in.log, listen: c.Broker.Listen, checksAccess: policy != nil}
	return nil
}

func (in *Ingest) brokerName() string {
	if in.c.EmbeddedBroker() {
		return "embedded " + in.c.Broker.Listen
	}
	return in.c.MQTT.Broker
}

// embeddedSource is the broker inside ingest: always ready.
type embeddedSource struct {
	*broker.Broker
	log          *slog.Logger
	listen       string
	checksAccess bool // credentials enforced (not anonymous): reloads swap them
}

func (*embeddedSource) Connected() bool { return true }

func (s *embeddedSource) start(_ context.Context, a *alertd.Service) error {
	if err := s.Start(); err != nil {
		return fmt.Errorf("embedded broker: %w", err)
	}
	if a != nil {
		// The broker restored its retained messages from disk: clear any
		// the alert service does not hold before it publishes its own.
		var retained []string
		for _, f := range contract.RetainedFilters() {
			retained = append(retained, s.Retained(f)...)
		}
		a.Sweep(retained)
		if err := s.Subscribe(contract.CommandsTopic, func(_ string, body []byte) { a.Command(body) }); err != nil {
			return fmt.Errorf("embedded broker: %w", err)
		}
		if err := s.Subscribe(contract.ObservationsFilter, func(_ string, body []byte) { a.Observed(body) }); err != nil {
			return fmt.Errorf("embedded broker: %w", err)
		}
	}
	s.log.Info("embedded MQTT broker listening; ingest takes device messages inside it", "addr", s.listen)
	return nil
}

func (s *embeddedSource) run(ctx context.Context) error {
	<-ctx.Done()
	return s.Close()
}

// subscription is ingest's client of an external broker.
type subscription struct {
	*mqttsub.Client
	log              *slog.Logger
	broker, clientID string
	owner            *alertOwner // alerts.lease: alerting is this ingest's while it holds the lease
}

func (s *subscription) start(ctx context.Context, a *alertd.Service) error {
	switch {
	case s.owner != nil:
		s.owner.follow()
	case a != nil:
		s.followAlerts(ctx, a)
	}
	connectCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.Connect(connectCtx); err != nil {
		s.log.Warn("mqtt not connected yet; retrying in the background", "broker", s.broker, "err", err)
	}
	return nil
}

// followAlerts subscribes the alert service to its commands and the
// group's observations, and resyncs it on every connect.
func (s *subscription) followAlerts(ctx context.Context, a *alertd.Service) {
	s.Subscribe(contract.CommandsTopic, func(_ string, body []byte) { a.Command(body) })
	s.Subscribe(contract.ObservationsFilter, func(_ string, body []byte) { a.Observed(body) })
	s.OnConnect(func() {
		a.Resync()
		// The broker may have restored retained messages from a save
		// older than the last resolve: list them and clear the ghosts.
		listCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		retained, err := s.Retained(listCtx, contract.RetainedFilters(), contract.IngestSyncPrefix+s.clientID)
		if err != nil {
			s.log.Warn("alerts: could not list the broker's retained alerts; ghosts are cleared on the next connect", "err", err)
			return
		}
		a.Sweep(retained)
	})
}

func (s *subscription) run(ctx context.Context) error {
	<-ctx.Done()
	s.Close(2 * time.Second)
	return nil
}

// server is an HTTP server on a bound listener.
type server struct {
	name      string
	srv       *http.Server
	ln        net.Listener
	cert, key string
	log       *slog.Logger
}

// listen binds addr for srv; a certificate makes it serve HTTPS.
func listen(name, addr string, srv *http.Server, cert, key string, log *slog.Logger) (*server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s listen %s: %w", name, addr, err)
	}
	return &server{name: name, srv: srv, ln: ln, cert: cert, key: key, log: log}, nil
}

func (s *server) addr() string { return s.ln.Addr().String() }

// serve is a group part: it serves until ctx ends, then shuts down within
// grace (0: closes every connection at once).
func (s *server) serve(grace time.Duration) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		done := make(chan error, 1)
		go func() {
			if s.cert != "" {
				done <- s.srv.ServeTLS(s.ln, s.cert, s.key)
			} else {
				done <- s.srv.Serve(s.ln)
			}
		}()
		select {
		case err := <-done:
			return fmt.Errorf("%s server: %w", s.name, err)
		case <-ctx.Done():
		}
		if grace == 0 {
			_ = s.srv.Close()
		} else {
			shut, cancel := context.WithTimeout(context.Background(), grace)
			defer cancel()
			_ = s.srv.Shutdown(shut)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			s.log.Error(s.name+" server", "err", err)
		}
		return nil
	}
}
