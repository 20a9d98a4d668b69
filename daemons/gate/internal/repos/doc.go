// Package repos manages the gate's bare repositories with go-git: create
// (empty or as a mirror of an upstream), list, show with ahead/behind,
// sync from the upstream, promote a branch to the upstream, forward pushes
// (online policy) and delete.
//
// Layout under the root: repos/<name>.git is a bare repository whose
// terok-gate.json holds its settings; tmp/ holds repositories being built
// (moved into place only when complete) and ones being deleted. Upstream
// branches are fetched into refs/remotes/upstream/*; a sync then
// fast-forwards the gate's own refs/heads/* where it can, so a task's work
// is never overwritten.
package repos
