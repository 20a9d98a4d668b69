// Package httpmw is the middleware every terok listener serves its
// handler behind: an access log line per request and recovery from a
// handler's panic.
//
// The access line names the method, the path without its query (a query
// may carry a secret: a ticket, a key), the status, the bytes written, the
// duration and the caller (its address, or on a unix socket its uid when
// the server records peer credentials); never a header or a body. A
// handler adds what it knows (a project, which token) with LineOf.
//
// A handler that panics is logged with its stack and answered 500 with
// the JSON error body; the daemon goes on serving. When the answer had
// begun, its connection is cut instead, so the client cannot take a
// truncated answer for a whole one.
package httpmw
