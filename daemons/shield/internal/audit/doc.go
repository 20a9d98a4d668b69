// Package audit keeps each container's audit trail: a JSON-lines file per
// container in the state directory, fanned out live to followers, and the
// NFLOG reader that turns the kernel's copies of blocked packets into
// records.
package audit
