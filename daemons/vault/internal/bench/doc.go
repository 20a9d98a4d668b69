// Command bench measures the latency terok-vault's credential broker adds
// to a streamed request: the same server-sent-events request sent to a
// fake provider over TLS on loopback directly, and through the real
// terok-vault binary's broker with a phantom token, interleaved in one
// run. It prints p50 and p99 of the time to the first byte and to the end
// of the stream, the ratios, and what the broker adds. The target is less
// than 2 ms added at p50. scripts/bench/vault.sh runs it; it is not a test
// and asserts nothing about time.
package main
