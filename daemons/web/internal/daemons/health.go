package daemons

import (
	"context"

	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/paths"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// sockets are the supervisor programs that answer a health check, with
// their sockets' names.
var sockets = map[string]string{"terok-gate": paths.Gate, "terok-shield": paths.Shield, "podman-service": paths.PodmanService, "terok-vault": paths.Vault}

// Problem asks program's health check on its socket in the run
// directory and returns the problem a degraded answer names ("" when it
// is fine, does not answer, or has no health check: the supervisor's
// state covers those).
func Problem(ctx context.Context, program string) string {
	name, ok := sockets[program]
	if !ok {
		return ""
	}
	st, err := health.Check(ctx, unixhttp.NewClient(paths.Socket("", name)))
	if health.Degraded(st, err) {
		return unixhttp.Message(err)
	}
	return ""
}
