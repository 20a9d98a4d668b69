package smarthttp

import "errors"

// Sentinel errors of request bodies.
var (
	// ErrMalformed means a request body holds a bad pkt-line.
	ErrMalformed = errors.New("malformed pkt-line")
	// ErrTooLarge means a request body exceeded its limit.
	ErrTooLarge = errors.New("request body too large")
)
