package events

import "errors"

// ErrClosed means the store was closed (the gate is stopping).
var ErrClosed = errors.New("event store closed")
