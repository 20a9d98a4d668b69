package config

import "errors"

// ErrInvalid wraps every configuration error.
var ErrInvalid = errors.New("invalid shield configuration")
