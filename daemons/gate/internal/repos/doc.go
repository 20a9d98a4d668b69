// Package repos manages the gate's bare repositories: create (empty or as
// a mirror of an upstream), list, show with ahead/behind, log, diff a
// branch against its base, count the commits of a push, sync from the
// upstream, promote a branch to the upstream, forward pushes (online
// policy) and delete.
//
// Files by what they hold: manager.go (the Manager, listing, deletion),
// settings.go (the record on disk, apart from the wire type), create.go
// (new and mirrored repositories), upstream.go (fetch, sync, promote,
// forward), branches.go (show, log), diff.go (branch diffs), pushes.go
// (what a push landed and its commit counts), gitcli.go (running git).
//
// Layout under the root: repos/<name>.git is a bare repository whose
// terok-gate.json holds its settings; tmp/ holds repositories being built
// (moved into place only when complete) and ones being deleted. Upstream
// branches are fetched into refs/remotes/upstream/*; a sync then
// fast-forwards the gate's own refs/heads/* where it can, so a task's work
// is never overwritten. go-git does the object work of mirrors; diffs,
// commit counts and ref updates use the git CLI.
package repos
