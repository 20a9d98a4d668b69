package unixhttp

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// ErrSocketInUse means another live process already answers on the socket.
var ErrSocketInUse = errors.New("socket is in use by a running process")

// ErrNotSocket means the socket path exists but is not a unix socket, so it
// is not removed.
var ErrNotSocket = errors.New("path exists and is not a socket")

// Sentinel errors that an *APIError matches with errors.Is, by HTTP status.
// Callers of every typed client test answers with these instead of status
// codes, e.g. errors.Is(err, unixhttp.ErrNotFound).
var (
	// ErrBadRequest matches an answer with status 400 (or 422).
	ErrBadRequest = errors.New("bad request")
	// ErrUnauthorized matches an answer with status 401.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden matches an answer with status 403.
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound matches an answer with status 404.
	ErrNotFound = errors.New("not found")
	// ErrConflict matches an answer with status 409.
	ErrConflict = errors.New("conflict")
	// ErrUnavailable matches an answer with status 502, 503 or 504, and a
	// socket nobody answers on (the daemon is not running).
	ErrUnavailable = errors.New("unavailable")
)

// APIError is an error answer from a daemon: the HTTP status and the
// message of its {"error": "...", "detail": "..."} body.
type APIError struct {
	Status  int
	Message string
	Detail  string
}

// Error implements error.
func (e *APIError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("%s: %s (HTTP %d)", e.Message, e.Detail, e.Status)
	}
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
}

// Is matches the sentinel that belongs to the answer's status.
func (e *APIError) Is(target error) bool {
	return target != nil && target == sentinelOf(e.Status)
}

func sentinelOf(status int) error {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return ErrBadRequest
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusForbidden:
		return ErrForbidden
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusConflict:
		return ErrConflict
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return ErrUnavailable
	}
	return nil
}

// DialError is a call that never reached the daemon: nobody answers on its
// socket. It matches ErrUnavailable.
type DialError struct {
	Socket string
	Err    error
}

// Error implements error.
func (e *DialError) Error() string {
	return fmt.Sprintf("cannot reach %s (is the daemon running?): %v", e.Socket, e.Err)
}

// Unwrap returns the dial failure.
func (e *DialError) Unwrap() error { return e.Err }

// Is matches ErrUnavailable.
func (e *DialError) Is(target error) bool { return target == ErrUnavailable }

// StatusOf returns the HTTP status of an *APIError in err's chain, or 0.
func StatusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// Message returns err's text for people: as err.Error(), but the answer
// of a daemon in its chain without its HTTP status ("not found: x"
// instead of "not found: x (HTTP 404)"). Logs and CLIs keep Error().
func Message(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	var ae *APIError
	if errors.As(err, &ae) {
		plain := ae.Message
		if ae.Detail != "" {
			plain += ": " + ae.Detail
		}
		s = strings.Replace(s, ae.Error(), plain, 1)
	}
	return s
}
