package trust

import "errors"

// ErrUntrusted wraps every refusal: a path the root shield must not read.
var ErrUntrusted = errors.New("refused: the root shield reads only root's own files")
