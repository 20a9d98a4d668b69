package hook

import "errors"

// Sentinel errors.
var (
	// ErrBadState is returned for a malformed OCI state on stdin.
	ErrBadState = errors.New("malformed OCI state on stdin")
	// ErrBadAnnotation is returned for an annotation the shield cannot use.
	ErrBadAnnotation = errors.New("bad shield annotation")
	// ErrBadStage is returned for a stage other than createRuntime or poststop.
	ErrBadStage = errors.New("unknown hook stage: want createRuntime or poststop")
)
