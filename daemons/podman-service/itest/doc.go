// Package itest holds podman-service's privileged integration tests: real
// rootless Podman run as the test user tkpodman (made by
// scripts/setup.d/20-podman.sh), driven from a root test process.
package itest
