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
// programs sit behind the Backend interface. Policy for task tokens (no
// deletion or non-fast-forward of the default branch, only branches and
// tags) is enforced by a pre-receive hook the gate installs in its own
// hooks directory and points receive-pack at with core.hooksPath, after the
// pushed objects arrived and before any ref moves.
//
// Identify and RefusalBody are the gate's parts of the listener limits
// (package listenlimit), which serve this handler.
package smarthttp
