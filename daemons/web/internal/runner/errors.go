package runner

import "errors"

// ErrBadRequest marks a request that cannot run as given (no command, an
// unknown mode); the message says what to change.
var ErrBadRequest = errors.New("bad request")

// ErrConflict marks an action the task's state does not allow (rm of a
// running task without force, follow-up of a running task).
var ErrConflict = errors.New("conflict")

// ErrUnavailable marks a daemon that did not answer; the message names it.
var ErrUnavailable = errors.New("unavailable")

// ErrImageMissing means the project's image is not in Podman's store.
var ErrImageMissing = errors.New("image missing")

// ErrUpstream means the gate answered but the project's upstream
// repository failed it (refused, unreachable, denied); the message names
// the upstream and its address.
var ErrUpstream = errors.New("upstream failed")
