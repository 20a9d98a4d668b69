package netns

import "errors"

// Sentinel errors.
var (
	// ErrGone is returned when the pid (and so its namespace) no longer exists.
	ErrGone = errors.New("process gone: its network namespace cannot be opened")
	// ErrHostNamespace is returned for a pid in the daemon's own network
	// namespace: arming it would firewall the host.
	ErrHostNamespace = errors.New("pid shares the daemon's own network namespace; refusing to firewall the host")
	// ErrNotOwner is returned when the caller does not own the namespace.
	ErrNotOwner = errors.New("caller does not own the network namespace of that pid")
)
