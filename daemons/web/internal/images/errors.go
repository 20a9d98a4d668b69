package images

import (
	"errors"
	"net/http"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
)

// ErrNoBase means the project's base image is not in Podman's images (a
// kind of unixhttp.ErrBadRequest, answered 422 as a task's missing image).
var ErrNoBase = fail.Sentinel(unixhttp.ErrBadRequest, http.StatusUnprocessableEntity, "base image missing")

// ErrBuildFailed means a build step failed (the message names the layer,
// the step and its last lines); the project's image is unchanged.
var ErrBuildFailed = fail.Sentinel(unixhttp.ErrBadRequest, http.StatusUnprocessableEntity, "build failed")

func asBuildError(err error, target **BuildError) bool { return errors.As(err, target) }
