package alert

import (
	"fmt"
	"slices"
	"time"

	"github.com/ioc-vn/ioc/internal/registry"
)

// A device registered with commissioning: true is not yet installed: no
// silence rule watches it, so it pages no one while the integrator wires
// it up. Its first accepted message (Observe), or an operator's
// Commission, makes it live; from then on it is watched like any device.
// Going live is one-way and the alert service saves it (RestoreLive after
// a restart); editing the registry to drop the flag does the same.

// commissioning reports whether d is registered as commissioning and has
// not gone live.
func (e *Engine) commissioning(d *registry.Device) bool {
	return d.Commissioning && !e.live[d.ID]
}

// Commissioning reports whether the device id is still commissioning.
func (e *Engine) Commissioning(id string) bool {
	de := e.devs[id]
	return de != nil && e.commissioning(de.dev)
}

func (e *Engine) goLive(id string) {
	e.live[id] = true
	e.wentLive = append(e.wentLive, id)
}

// TakeCommissioned returns the devices that went live since the last call,
// for the caller to save.
func (e *Engine) TakeCommissioned() []string {
	out := e.wentLive
	e.wentLive = nil
	return out
}

// RestoreLive brings back the commissioning devices an earlier process saw
// go live, after Restore and before Start.
func (e *Engine) RestoreLive(ids []string) {
	for _, id := range ids {
		e.live[id] = true
	}
}

// Commission makes a commissioning device live by hand (the operator says
// it is installed although it has not reported): from now its silence
// rules count, so it goes offline one timeout later if it stays silent.
func (e *Engine) Commission(id string, now time.Time) error {
	de := e.devs[id]
	if de == nil {
		return fmt.Errorf("no device %q", id)
	}
	if !e.commissioning(de.dev) {
		return fmt.Errorf("device %q is not commissioning", id)
	}
	e.goLive(id)
	for _, r := range de.rules {
		r.eval.start(e, r, de.dev, now)
	}
	return nil
}

// CommissioningDevices lists the devices still commissioning, sorted.
func (e *Engine) CommissioningDevices() []string {
	var out []string
	for id, de := range e.devs {
		if e.commissioning(de.dev) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}
