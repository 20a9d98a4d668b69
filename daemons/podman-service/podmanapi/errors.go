package podmanapi

import "errors"

// ErrNotFound is wrapped into errors for a container or image Podman does
// not know (HTTP 404).
var ErrNotFound = errors.New("not found")

// ErrConflict is wrapped into errors Podman answers with HTTP 409, e.g.
// killing a container that does not run or removing an image in use.
// Podman 4 answers a wrong container state with HTTP 500 "container state
// improper"; that is mapped to ErrConflict too.
var ErrConflict = errors.New("conflict")

// ErrBadFrame means a log stream was not in Podman's multiplexed format.
var ErrBadFrame = errors.New("malformed log stream frame")

// ErrNotRootfs means a tarball does not look like a root filesystem.
var ErrNotRootfs = errors.New("tarball is not a root filesystem")
