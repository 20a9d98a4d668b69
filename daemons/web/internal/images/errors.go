package images

import (
	"net/http"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
)

// ErrNoBase means the project's base image is not in Podman's images (a
// kind of unixhttp.ErrBadRequest, answered 422 as a task's missing image).
var ErrNoBase = fail.Sentinel(unixhttp.ErrBadRequest, http.StatusUnprocessableEntity, "base image missing")
