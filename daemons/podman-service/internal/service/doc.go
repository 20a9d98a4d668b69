// Package service is podman-service's own HTTP API on podman-service.sock:
// GET /v1/health (kit convention, with the Podman version and whether
// Podman's API answers) and GET /v1/status.
package service
