// Package api is terok-web's REST and WebSocket API under /api/v1/: one
// handler served on web.sock (trusted by its file mode) and, behind the
// bearer-token check of package auth, on the TCP listener.
package api
