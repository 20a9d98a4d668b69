package repos

import "errors"

// Sentinel errors of repository management.
var (
	ErrNotFound   = errors.New("no such repository")
	ErrConflict   = errors.New("repository exists with other settings")
	ErrNoUpstream = errors.New("repository has no upstream")
	ErrInvalid    = errors.New("invalid request")
	ErrUpstream   = errors.New("upstream failed")
	ErrNoBranch   = errors.New("no such branch")
	// ErrMoved means a branch no longer holds the commit a caller expected
	// (it moved after it was reviewed).
	ErrMoved = errors.New("branch moved since it was reviewed")
)
