// Command simulate plays a province's devices over MQTT: cameras,
// recorders, gateways and sensors reporting at realistic rates, with
// scripted and random incidents (an NVR outage, a flapping camera, a PM2.5
// spike, a rising river, a tampered camera, a district power cut, a
// recorder running out of disk). It also drives load for benchmarks.
//
//	simulate                                   # play configs/province.yaml against tcp://127.0.0.1:1883
//	simulate -config configs/simulator.yaml
//	simulate load -devices 600 -rate 5000 -duration 1m
//	simulate soak -rate 5000 -duration 30m -every 1m -metrics http://127.0.0.1:9100/metrics
//	simulate gen > configs/province.yaml       # the province, from its seed
//	simulate districts > configs/province-districts.geojson   # approximate district boundaries for the map
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ioc-vn/ioc/internal/config"
	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/ioc-vn/ioc/internal/sim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	mode := "run"
	if len(args) > 0 && (args[0] == "gen" || args[0] == "districts" || args[0] == "load" || args[0] == "soak" || args[0] == "run") {
		mode, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("simulate "+mode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "simulator YAML (see configs/simulator.yaml)")
	regPath := fs.String("registry", "configs/province.yaml", "device registry the simulator plays")
	broker := fs.String("broker", "", "broker URL (default tcp://127.0.0.1:1883)")
	seed := fs.Uint64("seed", 1, "gen: the province's seed")
	outline := fs.String("outline", "configs/province-outline.geojson", "districts: the province outline the districts divide")
	devices := fs.Int("devices", 0, "load: devices taking part (0: all)")
	rate := fs.Int("rate", 1000, "load, soak: messages per second in all")
	duration := fs.Duration("duration", time.Minute, "load, soak: how long")
	every := fs.Duration("every", time.Minute, "soak: report interval")
	metricsURL := fs.String("metrics", "http://127.0.0.1:9100/metrics", "soak: ingest's metrics, read at every report")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch mode {
	case "gen":
		return generate(stdout, stderr, *seed)
	case "districts":
		return districts(stdout, stderr, *outline)
	}
	cfg, err := loadConfig(*cfgPath, *broker)
	if err != nil {
		fmt.Fprintln(stderr, "simulate:", err)
		return 2
	}
	reg, err := registry.Load(*regPath)
	if err != nil {
		fmt.Fprintln(stderr, "simulate:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if mode == "soak" {
		res, err := sim.Soak(ctx, cfg, reg, sim.SoakOptions{Rate: *rate, Duration: *duration, Every: *every, Metrics: *metricsURL}, stdout, log)
		if err != nil {
			fmt.Fprintln(stderr, "simulate soak:", err)
			return 1
		}
		if res.Failed > 0 {
			return 1
		}
		return 0
	}
	if mode == "load" {
		res, err := sim.Load(ctx, cfg, reg, sim.LoadOptions{Devices: *devices, Rate: *rate, Duration: *duration}, log)
		if err != nil {
			fmt.Fprintln(stderr, "simulate load:", err)
			return 1
		}
		fmt.Fprintln(stdout, res)
		if res.Failed > 0 {
			return 1
		}
		return 0
	}
	if err := sim.New(cfg, reg, log).Run(ctx); err != nil {
		fmt.Fprintln(stderr, "simulate:", err)
		return 1
	}
	return 0
}

// loadConfig reads the simulator's configuration over its defaults; a
// broker given on the command line wins.
func loadConfig(path, broker string) (sim.Config, error) {
	cfg := sim.DefaultConfig()
	if path != "" {
		b, err := os.ReadFile(path)
		if err == nil {
			err = config.Decode(b, &cfg)
		}
		if err != nil {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if broker != "" {
		cfg.Broker = broker
	}
	return cfg, cfg.Validate()
}

// generate writes the simulated province's registry.
func generate(stdout, stderr io.Writer, seed uint64) int {
	if err := sim.WriteYAML(stdout, sim.Generate(seed), sim.Header); err != nil {
		fmt.Fprintln(stderr, "simulate gen:", err)
		return 1
	}
	return 0
}

// districts writes approximate district polygons cut from the outline.
func districts(stdout, stderr io.Writer, outline string) int {
	b, err := os.ReadFile(outline)
	if err == nil {
		b, err = sim.DistrictBoundaries(b)
	}
	if err != nil {
		fmt.Fprintln(stderr, "simulate districts:", err)
		return 1
	}
	_, _ = fmt.Fprintf(stdout, "%s\n", b)
	return 0
}
