package alert

import (
	"errors"
	"math"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/registry"
)

// RiseParams are a rise rule's keys: it raises when a field rises more
// than Delta above its lowest value within Window.
type RiseParams struct {
	Delta  float64 `yaml:"delta"`
	Window Dur     `yaml:"window"`
}

// rise evaluates rise rules. Its state: samples (the readings within the
// window) and last (the rise, as a field).
type rise struct{ noHooks }

type sample struct {
	at time.Time
	v  float64
}

func (rise) validate(r *Rule) error {
	if r.Field == "" || r.Delta <= 0 || r.Window <= 0 {
		return errors.New("a rise rule needs field, delta > 0 and window")
	}
	return nil
}

func (rise) observe(e *Engine, r *Rule, d *registry.Device, p *point.Point, now time.Time, out []Transition) []Transition {
	if p.Measurement != r.Measurement {
		return out
	}
	f, ok := p.Field(r.Field)
	if !ok || (f.Kind != point.Float && f.Kind != point.Int) {
		return out
	}
	return e.rise(out, e.st(r, d), p.Time, num(f), now)
}

func (e *Engine) rise(out []Transition, s *ruleState, at time.Time, v float64, now time.Time) []Transition {
	r := s.rule
	s.samples = append(s.samples, sample{at, v})
	from := at.Add(-time.Duration(r.Window))
	i := 0
	for i < len(s.samples) && s.samples[i].at.Before(from) {
		i++
	}
	s.samples = s.samples[i:]
	lowest := math.Inf(1)
	for _, x := range s.samples {
		lowest = min(lowest, x.v)
	}
	delta := round(v - lowest)
	s.last = point.FloatField(r.Field, delta)
	switch {
	case delta > r.Delta:
		return e.raise(out, s, delta, now)
	case delta <= r.Delta/2 && s.active():
		// Hysteresis: clear at half the rise, and only once the readings
		// cover half the window (after a restart they start afresh).
		if at.Sub(s.samples[0].at) >= time.Duration(r.Window)/2 {
			return e.clear(out, s, delta, now)
		}
	}
	return out
}

// due: a rise rule decides on readings only; it arms no deadline.
func (rise) due(_ *Engine, _ *ruleState, _ time.Time, out []Transition) []Transition { return out }

func round(v float64) float64 { return math.Round(v*100) / 100 }
