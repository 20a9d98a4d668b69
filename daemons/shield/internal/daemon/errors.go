package daemon

import "errors"

// Sentinel errors; the HTTP layer maps them to status codes.
var (
	ErrBadRequest = errors.New("bad request")
	ErrUnknown    = errors.New("unknown container")
	ErrAmbiguous  = errors.New("ambiguous container id prefix")
	ErrForbidden  = errors.New("not allowed for this caller")
	ErrGone       = errors.New("container namespace gone")
)
