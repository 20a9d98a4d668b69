// Package procs runs and watches the child processes of terok-supervisord
// with Python supervisord's state machine (STOPPED, STARTING, RUNNING,
// BACKOFF, STOPPING, EXITED, FATAL), writes their output to rotated log
// files (mode 0600, never through a symlink) and,
// line by line with a name prefix, to the supervisor's own stdout, and reaps
// orphans when the supervisor is PID 1 or a child subreaper.
package procs
