package names

import "errors"

// ErrBadName is returned for a name outside [A-Za-z0-9._-]+ or one that
// could walk out of its directory.
var ErrBadName = errors.New("bad name")
