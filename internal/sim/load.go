package sim

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ioc-vn/ioc/internal/registry"
)

// LoadOptions is a load run: the first Devices devices of the province
// report in turn, Rate messages a second in all, for Duration.
type LoadOptions struct {
	Devices  int
	Rate     int
	Duration time.Duration
	// Window bounds the messages published and not yet acknowledged.
	Window int
	// Every, with Interval, reports each period's own result as the run goes.
	Every    time.Duration
	Interval func(elapsed time.Duration, r LoadResult)
}

// LoadResult is what a load run achieved. Latency is from publish to the
// broker's PUBACK: with ingest inside the embedded broker, until the
// message is stored.
type LoadResult struct {
	Sent, Acked, Failed uint64
	Elapsed             time.Duration
	P50, P99, Max       time.Duration
}

func (r LoadResult) String() string {
	return fmt.Sprintf("sent %d, acknowledged %d, failed %d in %s (%.0f msgs/s); PUBACK p50 %s p99 %s max %s",
		r.Sent, r.Acked, r.Failed, r.Elapsed.Round(time.Millisecond), float64(r.Acked)/r.Elapsed.Seconds(), r.P50, r.P99, r.Max)
}

// Load publishes the province's regular reports at a fixed rate, through
// the real MQTT contract, and waits for every PUBACK.
func Load(ctx context.Context, cfg Config, reg *registry.Registry, o LoadOptions, log *slog.Logger) (LoadResult, error) {
	if o.Window <= 0 {
		o.Window = 2000
	}
	s := New(cfg, reg, log)
	s.clientPrefix = "ioc-load-"
	if o.Devices > 0 && o.Devices < len(s.devices) {
		s.devices = s.devices[:o.Devices]
	}
	if err := s.connect(ctx); err != nil {
		return LoadResult{}, err
	}
	defer s.disconnect()
	var (
		res   LoadResult
		mu    sync.Mutex
		lat   []time.Duration
		wg    sync.WaitGroup
		slots = make(chan struct{}, o.Window)
		cur   LoadResult // this interval's
		curL  []time.Duration
	)
	start := time.Now()
	lastReport := start
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	next := 0
	for sent := 0; ; {
		var now time.Time
		select {
		case <-ctx.Done():
			wg.Wait()
			return res, ctx.Err()
		case now = <-tick.C:
		}
		elapsed := now.Sub(start)
		if elapsed >= o.Duration {
			break
		}
		if o.Interval != nil && o.Every > 0 && now.Sub(lastReport) >= o.Every {
			mu.Lock()
			r, l := cur, curL
			cur, curL = LoadResult{}, nil
			mu.Unlock()
			r.Elapsed = now.Sub(lastReport)
			r.percentiles(l)
			lastReport = now
			o.Interval(elapsed, r)
		}
		due := int(elapsed.Seconds() * float64(o.Rate))
		for ; sent < due; sent++ {
			d := s.devices[next%len(s.devices)]
			next++
			topic, body := s.report(d, now)
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				wg.Wait()
				return res, ctx.Err()
			}
			t0 := time.Now()
			tok := s.clients[d.d.Integrator].Publish(topic, 1, false, body)
			mu.Lock()
			res.Sent++
			cur.Sent++
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok := tok.WaitTimeout(time.Minute) && tok.Error() == nil
				d := time.Since(t0)
				<-slots
				mu.Lock()
				defer mu.Unlock()
				if !ok {
					res.Failed++
					cur.Failed++
					return
				}
				res.Acked++
				cur.Acked++
				lat = append(lat, d)
				curL = append(curL, d)
			}()
		}
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.percentiles(lat)
	return res, nil
}

func (r *LoadResult) percentiles(lat []time.Duration) {
	slices.Sort(lat)
	if n := len(lat); n > 0 {
		r.P50, r.P99, r.Max = lat[n/2], lat[n*99/100], lat[n-1]
	}
}
