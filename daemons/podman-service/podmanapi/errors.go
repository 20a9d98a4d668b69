package podmanapi

import (
	"errors"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// ErrNotFound is unixhttp.ErrNotFound: errors.Is matches it for a container
// or image Podman does not know (HTTP 404).
var ErrNotFound = unixhttp.ErrNotFound

// ErrConflict is unixhttp.ErrConflict: errors.Is matches it for answers
// with HTTP 409, e.g. killing a container that does not run or removing an
// image in use. Podman 4 answers a wrong container state with HTTP 500
// "container state improper"; that matches ErrConflict too.
var ErrConflict = unixhttp.ErrConflict

// ErrBadFrame means a log stream was not in Podman's multiplexed format.
var ErrBadFrame = errors.New("malformed log stream frame")

// ErrNotRootfs means a tarball does not look like a root filesystem.
var ErrNotRootfs = errors.New("tarball is not a root filesystem")

// ErrBuildFailed matches a *BuildError: Podman ran the build and a step
// (or the Containerfile itself) failed.
var ErrBuildFailed = errors.New("image build failed")
