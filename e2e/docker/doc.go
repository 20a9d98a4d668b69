// Package docker tests the terok Docker image end to end: it builds the
// image with scripts/image.sh (as `make image` does), starts a Docker engine
// when none answers, runs the image as docs/docker.md says and uses it the
// way a user does — docker logs, docker exec, git from the host, a task in
// nested rootless Podman behind the shield, overrides, restarts, docker stop.
// It is its own package so that go test runs it beside the other e2e tests.
package docker
