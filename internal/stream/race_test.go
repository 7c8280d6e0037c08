//go:build race

package stream_test

// raceClients bounds the clients of a test under the race detector, which
// allows 8,128 goroutines at a time (each server-side client has one).
const raceClients = 2000
