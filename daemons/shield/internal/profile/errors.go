package profile

import "errors"

// Sentinel errors.
var (
	// ErrUnknown is returned for a profile name with no bundled or user file.
	ErrUnknown = errors.New("unknown profile")
	// ErrBadLine is returned for a line that is not a valid entry (strict mode).
	ErrBadLine = errors.New("bad profile line")
	// ErrBadName is returned for a profile name that cannot be a file name.
	ErrBadName = errors.New("bad profile name: use letters, digits, '-' and '_'")
)
