// Package webports hands out the host ports web-mode tasks' UIs listen
// on (FirstPort–LastPort, a contract of the image's documentation): one
// per task, never one another program holds, until released. The runner
// records a task's port in its container's LabelWebPort label, so the
// table is rebuilt from Podman when terok-web starts (PortsFromContainers,
// Restore). Package webproxy opens the listeners on these ports.
package webports
