package nsdial

import "errors"

// ErrClosed means the relay is closed or has exited.
var ErrClosed = errors.New("relay closed")

// ErrRefused means nothing answered on the port inside the namespace.
var ErrRefused = errors.New("connection refused in the task")
