// Package buildinfo holds the version stamped into every terok binary at
// link time (make build sets it from git describe).
package buildinfo

// Version is set with -ldflags "-X github.com/terok-ai/terok-in-docker/daemons/kit/buildinfo.Version=...".
var Version = "dev"
