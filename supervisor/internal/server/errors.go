package server

import "errors"

// Errors of group management, mapped to faults by the RPC layer.
var (
	errBadName      = errors.New("BAD_NAME")
	errAlreadyAdded = errors.New("ALREADY_ADDED")
	errStillRunning = errors.New("STILL_RUNNING")
)
