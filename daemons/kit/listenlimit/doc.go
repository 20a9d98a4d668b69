// Package listenlimit holds the limits every TCP listener a task or a
// browser can reach is served with: the http.Server's timeouts and header
// size, and a connection layer that knows, before anything of a request
// but its headers is read, whether the request carries a valid credential.
//
// A daemon gives NewServer its handler, its Limits and an Identify func
// that maps a request's headers to a credential (a gate token from Basic
// auth, a bearer token, a session cookie, ...). Then:
//
//   - a connection that has not yet shown a valid credential (one still
//     waiting for its first request's headers, or one whose request has no
//     valid credential) counts against MaxUncredentialedConns; past it the
//     oldest such connection still waiting for headers is closed with a
//     429, so one client holding many idle connections cannot keep others
//     from being heard;
//   - a request without a valid credential gets UncredentialedTimeout for
//     the whole of it and "Connection: close": its answer (401, a login
//     page) goes out at once, an unsent body is not waited for, and the
//     connection ends;
//   - a request with a credential binds its connection to the credential's
//     key; a key holds at most MaxConnsPerCredential connections and all
//     keys together MaxCredentialedConns. Past either the request is
//     answered 429 with Retry-After and a body naming the limit, and the
//     connection closes;
//   - a header folded onto a second line (obs-fold, RFC 9112 5.2) is
//     answered 400: Go's parser would join the lines.
//
// Connections are counted from Accept to Close of the wrapped net.Conn, so
// keep-alive connections count while idle and hijacked ones (WebSockets)
// until their new owner closes them. Each refusal is logged at most once
// per minute per credential key, in bounded memory.
package listenlimit
