// Package unixhttp serves and calls JSON-over-HTTP APIs on unix sockets.
//
// A daemon listens with Listen (which clears a stale socket left by a crash
// but refuses to steal a live one), serves an http.Handler with Server, and
// its typed client wraps Client, which speaks JSON and turns error answers
// into *APIError values.
//
// Every error answer on the wire is {"error": "..."}; WriteJSON and
// WriteError produce it, Client decodes it.
package unixhttp
