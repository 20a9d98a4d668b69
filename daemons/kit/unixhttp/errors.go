package unixhttp

import (
	"errors"
	"fmt"
)

// ErrSocketInUse means another live process already answers on the socket.
var ErrSocketInUse = errors.New("socket is in use by a running process")

// ErrNotSocket means the socket path exists but is not a unix socket, so it
// is not removed.
var ErrNotSocket = errors.New("path exists and is not a socket")

// APIError is an error answer from a daemon: the HTTP status and the
// message of its {"error": "..."} body.
type APIError struct {
	Status  int
	Message string
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
}

// StatusOf returns the HTTP status of an *APIError in err's chain, or 0.
func StatusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}
