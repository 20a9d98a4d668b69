// Package smarthttp serves git's smart HTTP protocol for the gate's
// repositories: ref advertisement (info/refs), git-upload-pack and
// git-receive-pack, and HEAD, behind token authentication.
//
// Pack data is never held in memory: request bodies (gzip-decoded when the
// client compressed them) stream into `git upload-pack` or
// `git receive-pack --stateless-rpc`, and their output streams back to the
// client. The git programs sit behind the Backend interface. Policy for
// task tokens (no deletion or non-fast-forward of the default branch, only
// branches and tags) is enforced by a pre-receive hook the gate installs in
// its own hooks directory and points receive-pack at with core.hooksPath,
// after the pushed objects arrived and before any ref moves.
package smarthttp
