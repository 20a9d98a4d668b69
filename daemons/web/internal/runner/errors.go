package runner

import (
	"errors"
	"net/http"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
)

// ErrImageMissing means the project's image is not in Podman's store (and
// nothing provides it); the message says how to get it. It is a bad
// request answered 422.
var ErrImageMissing = fail.Sentinel(unixhttp.ErrBadRequest, http.StatusUnprocessableEntity, "image missing")

// errGone means the task ended or was removed while it waited.
var errGone = errors.New("the task ended while it waited")
