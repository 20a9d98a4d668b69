package entrypoint

import "errors"

// ErrMalformed marks an environment variable the entrypoint cannot use; the
// error text names the variable and the fix.
var ErrMalformed = errors.New("malformed environment variable")

// ErrBadToken marks a token (given or stored) that cannot be used.
var ErrBadToken = errors.New("unusable token")
