package webproxy

import "errors"

// ErrNoFreePort means every port of the allocator's range is taken by a
// task or by another program on the host.
var ErrNoFreePort = errors.New("no free web port")

// ErrBadPort means a port given to Restore is outside the range or
// claimed twice.
var ErrBadPort = errors.New("bad web port")

// ErrBadPublicURL means TEROK_PUBLIC_URL is not an absolute http(s) URL.
var ErrBadPublicURL = errors.New("bad public URL")
