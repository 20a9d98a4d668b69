package audit

import "errors"

// ErrNoLog is returned when a container has never had an audit log.
var ErrNoLog = errors.New("no audit log for that container")
