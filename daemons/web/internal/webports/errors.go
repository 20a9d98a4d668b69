package webports

import (
	"net/http"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
)

// ErrNoFreePort means every port of the allocator's range is taken by a
// task or by another program on the host (a conflict: stop a web task).
var ErrNoFreePort = fail.Sentinel(unixhttp.ErrConflict, http.StatusConflict, "no free web port")

// ErrBadPort means a port range, or a table given to Restore, cannot be
// used: a port outside the range or claimed twice.
var ErrBadPort = fail.Sentinel(unixhttp.ErrBadRequest, http.StatusBadRequest, "bad web port")
