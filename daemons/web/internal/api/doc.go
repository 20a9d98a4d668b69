// Package api is terok-web's REST and WebSocket API under /api/v1/: one
// handler served on web.sock (trusted by its file mode) and, behind the
// checks of package auth, on the TCP listener. It only translates: a
// handler decodes the request (call, the generic adapter, for the JSON
// routes), calls one service of the domain layer (projects, runner,
// review, egress, images, daemons) and encodes the answer or the error
// (its status from package fail). The rules are the services'.
package api
