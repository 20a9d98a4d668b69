package startup

import "errors"

// ErrUnsafeDir marks a vault directory that another user controls or
// could have replaced (a symlink, a foreign owner).
var ErrUnsafeDir = errors.New("unsafe vault directory")

// ErrUser marks a user or group that cannot be used.
var ErrUser = errors.New("unusable user")
