// Package preflight checks that the machine and the unprivileged user can
// run rootless Podman, and decides the settings podman-service writes:
// cgroup manager, OCI runtime, events logger and storage driver.
//
// Every path and probe it uses sits in Env, so tests point it at files
// they made instead of breaking the machine.
package preflight
