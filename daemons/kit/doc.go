// Package kit is the small set of helpers every terok daemon shares: the
// logger set-up (package logging), socket, config and state directory
// resolution (package paths), the unix-socket HTTP server and JSON client
// (package unixhttp), the access log and panic recovery of every listener
// (package httpmw), the serve command's frame (package serve), the TCP
// listener limits (package listenlimit), the health endpoint (package
// health), the CLI's house rules (package cli) and the test tier switch
// (package testkit).
//
// It deliberately holds nothing daemon-specific: each daemon owns its config,
// its API and its typed client.
package kit
