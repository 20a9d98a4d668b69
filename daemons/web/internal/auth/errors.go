package auth

import (
	"errors"
	"fmt"
	"time"
)

// ErrWeakToken means a kept access token fails kit/accesstoken's check.
var ErrWeakToken = errors.New("unusable access token")

// ErrNoCredential means a request carries no credential of a method's
// kind (or an expired session).
var ErrNoCredential = errors.New("no credential")

// ErrBadCredential means a request carries a wrong credential.
var ErrBadCredential = errors.New("wrong credential")

// ErrBadSessions means the sessions file cannot be read or written.
var ErrBadSessions = errors.New("sessions file")

// LimitedError means too many logins failed: Retry is how long until the
// next try is taken.
type LimitedError struct {
	Retry time.Duration
	// Global tells that the limit of all clients together was hit.
	Global bool
}

func (e *LimitedError) Error() string {
	who := "from this address"
	if e.Global {
		who = "from all addresses together"
	}
	return fmt.Sprintf("too many failed logins %s: try again in %d s", who, int(e.Retry/time.Second)+1)
}
