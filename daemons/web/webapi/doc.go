// Package webapi is the typed client of terok-web and its wire types: the
// REST API under /api/v1/ on web.sock (trusted by its file mode) or on the
// TCP listener with a bearer token. The terok CLI and the tests use it.
package webapi
