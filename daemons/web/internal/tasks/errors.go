package tasks

import "errors"

// ErrNotFound means no task has that id.
var ErrNotFound = errors.New("no such task")

// ErrInvalidID means a string cannot be a task id.
var ErrInvalidID = errors.New("invalid task id")
