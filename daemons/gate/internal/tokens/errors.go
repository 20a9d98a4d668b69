package tokens

import "errors"

// ErrUnknown means a presented token matches neither the admin token nor a
// live task token.
var ErrUnknown = errors.New("unknown token")

// ErrCorrupt means the token file could not be parsed.
var ErrCorrupt = errors.New("token file is corrupt")
