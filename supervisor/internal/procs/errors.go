package procs

import "errors"

// Sentinel errors of process control; the XML-RPC layer maps each to the
// Python supervisord fault of the same name.
var (
	ErrAlreadyStarted = errors.New("ALREADY_STARTED")
	ErrNotRunning     = errors.New("NOT_RUNNING")
	ErrSpawn          = errors.New("SPAWN_ERROR")
	ErrAbnormal       = errors.New("ABNORMAL_TERMINATION")
	ErrNoFile         = errors.New("NO_FILE")
	ErrNotExecutable  = errors.New("NOT_EXECUTABLE")
	ErrFailed         = errors.New("FAILED")
)
