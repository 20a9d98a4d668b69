package recipes

import (
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
)

// ErrUnknown means no shipped or user recipe has that name (a kind of
// unixhttp.ErrNotFound).
var ErrUnknown = fail.Sentinel(unixhttp.ErrNotFound, 0, "unknown agent")

// ErrInvalid means a recipe file does not validate; the message names the
// file, the line, the field and the fix (a kind of unixhttp.ErrBadRequest).
var ErrInvalid = fail.Sentinel(unixhttp.ErrBadRequest, 0, "invalid agent recipe")
