package fail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// Error is an error of a kind: Kind is one of kit/unixhttp's sentinels,
// and errors.Is matches it as well as every error the message wraps.
// Status, when set, is the HTTP status to answer instead of the kind's
// own (422 for a missing image, 502 for an upstream's failure).
type Error struct {
	Kind   error
	Status int
	err    error
	cause  error // kept for errors.Is/As when the message does not wrap it
}

// Error returns the message, without the kind's name.
func (e *Error) Error() string { return e.err.Error() }

// Unwrap returns the kind and the wrapped message (with its causes).
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{e.Kind, e.err, e.cause}
	}
	return []error{e.Kind, e.err}
}

// New returns an error of kind with the message fmt.Errorf makes of
// format and a (%w keeps a cause).
func New(kind error, format string, a ...any) error {
	return &Error{Kind: kind, err: fmt.Errorf(format, a...)}
}

// Because is New with cause kept for errors.Is and errors.As although
// the message does not show it whole (e.g. another daemon's answer
// without its HTTP status).
func Because(kind, cause error, format string, a ...any) error {
	return &Error{Kind: kind, err: fmt.Errorf(format, a...), cause: cause}
}

// Sentinel returns a named error of kind (answered with status when not
// 0), for errors.Is against a meaning finer than the kind's: wrap it
// with fmt.Errorf("%w: ...", s).
func Sentinel(kind error, status int, text string) error {
	return &Error{Kind: kind, Status: status, err: errors.New(text)}
}

// BadRequest is input that cannot work as given; the message says what
// to change.
func BadRequest(format string, a ...any) error { return New(unixhttp.ErrBadRequest, format, a...) }

// NotFound is a project, task or other thing that does not exist.
func NotFound(format string, a ...any) error { return New(unixhttp.ErrNotFound, format, a...) }

// Conflict is an action the state of its object does not allow now.
func Conflict(format string, a ...any) error { return New(unixhttp.ErrConflict, format, a...) }

// Forbidden is a request the caller may not make this way.
func Forbidden(format string, a ...any) error { return New(unixhttp.ErrForbidden, format, a...) }

// Unavailable is something terok-web needs that does not answer.
func Unavailable(format string, a ...any) error { return New(unixhttp.ErrUnavailable, format, a...) }

// Daemon wraps the error of a call to another daemon (daemon names it,
// what says what the call was for). A daemon that answered keeps its
// answer (a 4xx keeps its kind; the message is the daemon's). One that
// did not answer at all (no socket, connection refused or broken) is
// ErrUnavailable: "what: daemon does not answer (…)". A cancelled call
// stays what it is.
func Daemon(daemon, what string, err error) error {
	if err == nil {
		return nil
	}
	prefix := daemon
	if what != "" {
		prefix = what + ": " + daemon
	}
	var ae *unixhttp.APIError
	if errors.As(err, &ae) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	var ne *net.OpError
	if errors.Is(err, unixhttp.ErrUnavailable) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) {
		return Unavailable("%s does not answer (terok daemons status shows why): %w", prefix, err)
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

// Status is the HTTP status that answers err: the status an Error names,
// else its kind's; another daemon's answer keeps a 4xx and is 502 for
// anything worse (it answered, with an error); a daemon that does not
// answer is 503; anything else 500.
func Status(err error) int {
	var fe *Error
	if errors.As(err, &fe) {
		for e := fe; e != nil; {
			if e.Status != 0 {
				return e.Status
			}
			e, _ = e.Kind.(*Error) // a Sentinel as the kind
		}
		if s := kindStatus(fe.Kind); s != 0 {
			return s
		}
	}
	if s := unixhttp.StatusOf(err); s >= 400 && s < 500 {
		return s
	} else if s >= 500 {
		return http.StatusBadGateway
	}
	if s := kindStatus(err); s != 0 {
		return s
	}
	return http.StatusInternalServerError
}

// kindStatus is the status of the first kit sentinel err matches, 0 for
// none.
func kindStatus(err error) int {
	for _, k := range []struct {
		kind   error
		status int
	}{
		{unixhttp.ErrBadRequest, http.StatusBadRequest},
		{unixhttp.ErrUnauthorized, http.StatusUnauthorized},
		{unixhttp.ErrForbidden, http.StatusForbidden},
		{unixhttp.ErrNotFound, http.StatusNotFound},
		{unixhttp.ErrConflict, http.StatusConflict},
		{unixhttp.ErrUnavailable, http.StatusServiceUnavailable},
	} {
		if errors.Is(err, k.kind) {
			return k.status
		}
	}
	return 0
}
