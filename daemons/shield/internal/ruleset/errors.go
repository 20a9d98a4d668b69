package ruleset

import "errors"

// ErrNotArmed is returned when the shield table is missing from a namespace.
var ErrNotArmed = errors.New("shield table not present in the namespace")
