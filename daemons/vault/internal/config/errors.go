package config

import "errors"

// ErrInvalid marks a configuration value that cannot work.
var ErrInvalid = errors.New("invalid configuration")
