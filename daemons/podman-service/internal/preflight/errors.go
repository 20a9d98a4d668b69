package preflight

import "errors"

// ErrFailed is returned by Report.Err when at least one check failed.
var ErrFailed = errors.New("preflight failed")
