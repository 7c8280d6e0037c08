package mqttsub

import "testing"

func TestMatches(t *testing.T) {
	tests := []struct {
		filter, topic string
		want          bool
	}{
		{"ioc/server/v1/commands", "ioc/server/v1/commands", true},
		{"ioc/server/v1/commands", "ioc/server/v1/command-results", false},
		{"ioc/server/v1/observations/+", "ioc/server/v1/observations/ingest-1", true},
		{"ioc/server/v1/observations/+", "ioc/server/v1/observations", false},
		{"ioc/server/v1/observations/+", "ioc/server/v1/observations/a/b", false},
		{"ioc/server/v1/#", "ioc/server/v1/alerts/x/y", true},
		{"ioc/v1/#", "ioc/server/v1/commands", false},
	}
	for _, tc := range tests {
		if got := matches(tc.filter, tc.topic); got != tc.want {
			t.Errorf("matches(%q, %q) = %v, want %v", tc.filter, tc.topic, got, tc.want)
		}
	}
}
