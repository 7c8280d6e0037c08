package ingest

import (
	"github.com/ioc-vn/ioc/internal/payload"
	"github.com/ioc-vn/ioc/internal/validate"
)

// Validation and Refusal are internal/validate's: what a message would
// become, and a gateway's device refused.
type (
	Validation = validate.Validation
	Refusal    = validate.Refusal
)

// Validate checks body on topic as the pipeline would (topic, registry
// and ownership, payload, declared field kinds, a gateway's devices) and
// stores, counts and reports nothing, with the registry in force
// (validate.Checker.Message). It may run on any goroutine.
func (p *Pipeline) Validate(topic string, body []byte) (Validation, *payload.Error) {
	return p.check.Message(p.registry.Load(), topic, body, p.now())
}
