// Package podmanapi is the typed client of Podman's own libpod REST API on
// podman.sock, the socket podman-service keeps answering: New(socket),
// Health(ctx), and errors matched with errors.Is against kit/unixhttp's
// sentinels (ErrNotFound and ErrConflict here are those sentinels).
// podman-service's own health and status API, on podman-service.sock, has
// its client in package serviceapi.
//
// It depends only on the standard library and daemons/kit, so terok-web
// and the CLIs import it instead of hand-building JSON. Every call speaks
// the /v4.0.0/libpod paths, which Podman 4.3 (Debian 12) and Podman 5.x
// (Debian 13) both serve.
//
// OCI hooks are not a field of a container: Podman runs the hooks found in
// the hooks_dir that podman-service writes into containers.conf, and a hook
// whose "when" matches one of the container's Annotations is armed for it.
package podmanapi
