// Package gateapi is the typed client of terok-gate's admin API on its unix
// socket (gate.sock), with the wire types. It depends only on the kit and
// the standard library, so terok-web and the CLI import it instead of
// building JSON by hand. docs/api.md describes the same API for humans.
package gateapi
