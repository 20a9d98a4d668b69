package xmlrpc

import (
	"errors"
	"fmt"
	"strings"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// RefusedMark is in the text of every fault terok-supervisord answers to a
// call the caller has not the rights for.
const RefusedMark = " needs root: "

// ErrMalformed means the XML was not a valid XML-RPC document.
var ErrMalformed = errors.New("malformed XML-RPC")

// Fault is an XML-RPC fault answer. It is an error.
type Fault struct {
	Code   int
	String string
}

// Error implements error.
func (f *Fault) Error() string { return fmt.Sprintf("%d: %s", f.Code, f.String) }

// Is matches a fault against the sentinel errors of kit/unixhttp, so that a
// caller treats the supervisor like every other terok daemon:
// BAD_NAME is ErrNotFound; ALREADY_STARTED, NOT_RUNNING, ALREADY_ADDED and
// STILL_RUNNING are ErrConflict; INCORRECT_PARAMETERS, BAD_ARGUMENTS and
// BAD_SIGNAL are ErrBadRequest; SHUTDOWN_STATE is ErrUnavailable; the
// FAILED or CANT_REREAD of a call terok-supervisord refuses to a caller
// without root's rights (its text holds RefusedMark) is ErrForbidden.
func (f *Fault) Is(target error) bool {
	if (f.Code == 30 || f.Code == 92) && strings.Contains(f.String, RefusedMark) {
		return target == unixhttp.ErrForbidden
	}
	switch f.Code {
	case 10: // BAD_NAME
		return target == unixhttp.ErrNotFound
	case 60, 70, 90, 91: // ALREADY_STARTED, NOT_RUNNING, ALREADY_ADDED, STILL_RUNNING
		return target == unixhttp.ErrConflict
	case 2, 3, 11: // INCORRECT_PARAMETERS, BAD_ARGUMENTS, BAD_SIGNAL
		return target == unixhttp.ErrBadRequest
	case 6: // SHUTDOWN_STATE
		return target == unixhttp.ErrUnavailable
	}
	return false
}
