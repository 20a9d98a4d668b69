//go:build !race

package testkit

// raceEnabled: this binary runs under the race detector.
const raceEnabled = false
