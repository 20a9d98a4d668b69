// Package runner wires a task through the other daemons: the gate (repo
// and task token), Podman (container, workspace volume, logs, exit) and
// the shield (armed by Podman's OCI hook from the container's
// annotations; asked for status and live changes). It records every step
// in the task's record and timeline and publishes it on the event hub.
package runner
