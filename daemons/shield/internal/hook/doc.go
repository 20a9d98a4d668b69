// Package hook is the OCI hook side of terok-shield: it reads the OCI state
// Podman passes on stdin, turns the container's annotations into an arm
// request, and writes the hooks JSON (schema 1.0.0) that makes Podman run
// the hook for annotated containers.
package hook
