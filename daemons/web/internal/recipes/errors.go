package recipes

import "errors"

// ErrUnknown means no shipped or user recipe has that name.
var ErrUnknown = errors.New("unknown agent")

// ErrInvalid means a recipe file does not validate; the message names the
// file, the line, the field and the fix.
var ErrInvalid = errors.New("invalid agent recipe")
