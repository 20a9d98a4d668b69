// Package serviceapi is the typed client of podman-service's own socket
// (<run dir>/podman-service.sock): its health and status. Podman's REST API
// itself, on podman.sock, has its client in package podmanapi.
//
// Like every terok client it is built with New(socket), answers Health(ctx)
// and returns errors that match kit/unixhttp's sentinels with errors.Is
// (unixhttp.ErrUnavailable when the service does not answer).
package serviceapi
