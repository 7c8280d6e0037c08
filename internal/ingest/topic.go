package ingest

import "github.com/ioc-vn/ioc/internal/contract"

// SubscribeFilters are what the pipeline subscribes to: every topic under
// ioc/v1/ (contract.DeviceFilter), so that a message on a malformed topic
// is refused with a reason rather than silently unheard. The pipeline
// skips the ioc/v1/<integrator>/_errors topics it publishes.
func SubscribeFilters() []string { return []string{contract.DeviceFilter} }
