// Package smarthttp serves git's smart HTTP protocol for the gate's
// repositories: ref advertisement (info/refs), git-upload-pack and
// git-receive-pack, and HEAD, behind token authentication.
//
// Pack data is never held in memory: request bodies (gzip-decoded when the
// client compressed them) stream into `git upload-pack` or
// `git receive-pack --stateless-rpc`, and their output streams back to the
// client. The git programs sit behind the Backend interface. The push
// policy is asked by a pre-receive hook the gate installs in its own hooks
// directory (core.hooksPath): git runs it after the pushed objects arrived
// and before any ref moves, and it hands git's own list of ref updates to
// the gate over a socket opened for that one receive-pack (PushGuard).
package smarthttp
