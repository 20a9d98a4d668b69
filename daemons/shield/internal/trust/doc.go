// Package trust keeps the root shield from acting on what another user
// wrote. Running as root, the daemon reads its config, profiles and state
// only from directories that root owns and nobody else may write, and only
// regular files that root owns and nobody else may write, opened without
// following a symbolic link. Run as another user (tests of the CLI, say)
// only the symbolic-link and file-type checks apply.
package trust
