package config

import "errors"

// ErrInvalid marks every configuration error; the message names the file,
// line and key, and what to change.
var ErrInvalid = errors.New("invalid configuration")
