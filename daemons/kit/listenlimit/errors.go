package listenlimit

import "errors"

// ErrInvalid marks a limit that cannot work.
var ErrInvalid = errors.New("invalid listener limit")
