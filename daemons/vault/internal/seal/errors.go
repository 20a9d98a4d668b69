package seal

import "errors"

// ErrBadKeyFile marks a key file that is not a vault key (wrong length,
// not hex or base64) or that cannot be trusted (a symlink, a file other
// users may read or write, a file of another user).
var ErrBadKeyFile = errors.New("unusable key file")

// ErrOpen marks a sealed record that does not open with this key and its
// associated data: another key sealed it, or it was changed or moved.
var ErrOpen = errors.New("sealed record does not open")
