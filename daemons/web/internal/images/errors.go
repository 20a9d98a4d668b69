package images

import "errors"

// ErrNoBase means the project's base image is not in Podman's images.
var ErrNoBase = errors.New("base image missing")
