package phantoms

import "errors"

// ErrCorrupt marks a phantom file that cannot be read.
var ErrCorrupt = errors.New("phantom file is damaged")

// ErrNotFound marks a phantom id that is not stored.
var ErrNotFound = errors.New("no such phantom")
