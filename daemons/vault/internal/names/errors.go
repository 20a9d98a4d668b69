package names

import "errors"

// ErrBadName marks a project, task or provider name outside the rules.
var ErrBadName = errors.New("bad name")
