// Package smarthttp serves git's smart HTTP protocol for the gate's
// repositories: ref advertisement (info/refs), git-upload-pack and
// git-receive-pack, and HEAD, behind token authentication. The token is
// looked at before the path and the method.
//
// Pack data is never held in memory: request bodies (gzip-decoded when the
// client compressed them) stream into `git upload-pack` or
// `git receive-pack --stateless-rpc`, and their output streams back to the
// client. A fetch request reaches git one pkt-line at a time, each after
// the gate checked it (request.go), so a malformed request is answered 400
// naming the line; git's own refusals of a request are answered 400 too
// (status.go), and a 500 is left for the gate's own failures. The git
// programs sit behind the Backend interface. The push policy is asked by a
// pre-receive hook the gate installs in its own hooks directory
// (core.hooksPath): git runs it after the pushed objects arrived and before
// any ref moves, and it hands git's own list of ref updates to the gate
// over a socket opened for that one receive-pack (PushGuard).
//
// Identify and RefusalBody are the gate's parts of the listener limits
// (package listenlimit), which serve this handler.
package smarthttp
