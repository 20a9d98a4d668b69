// Package child runs `podman system service` as a child process and owns
// its life: readiness by a real API ping, a watchdog that replaces a child
// that stops answering, restarts with backoff when it dies, and a clean
// stop.
package child
