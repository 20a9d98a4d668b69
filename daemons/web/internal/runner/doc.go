// Package runner is the task service: every front end (the API, the
// browser UI through it, the terok CLI) runs, follows, stops and removes
// tasks through a Runner. It wires a task through the other daemons —
// the gate (repository and task token), Podman (container, workspace
// volume, logs, exit) and the shield (armed by Podman's OCI hook from the
// container's annotations; asked for status and live changes) — records
// every step in the task's record and timeline (package tasks) and
// publishes it on the event hub.
//
// # Changes run to their end; waits end with their caller
//
// A change a caller asks for — run, follow-up, restart, stop, rm — runs
// on a context detached from the caller's, bounded by its own timeout
// (startTimeout, changeTimeout): a client that goes away (Ctrl-C, a
// closed browser tab) never leaves a change half done, such as a
// container removed and its record kept, or a container started that no
// record names. Waiting for a result — the wait of stop, WaitEnded, a
// log that follows — ends with the caller's context.
//
// # Who owns what
//
// Changes of one task are serialized by its lock (start, stop, rm, a new
// run); a task's record is created under its project's lock
// (projects.Service.Hold), so a project is never deleted while a task of
// it is being made. Every goroutine the runner starts is waited for by
// Wait: a monitor per running task, and in it the log stream, the
// shield's event follower and the arm-time recorder, which the monitor
// ends and waits for before it closes the log file.
package runner
