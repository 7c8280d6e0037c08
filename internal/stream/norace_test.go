//go:build !race

package stream_test

// raceClients bounds the clients of a test under the race detector; there
// is none in this build.
const raceClients = 1 << 30
