// Package fail is terok-web's one error family: every error the domain
// packages return that a caller may act on carries one of kit/unixhttp's
// sentinels (ErrBadRequest, ErrNotFound, ErrConflict, ErrForbidden,
// ErrUnavailable) as its kind, matched with errors.Is, while its message
// stays the sentence people read (no "not found: " in front). Status is
// the one place that turns a kind into an HTTP status; Daemon is the one
// wrapper for a call to another daemon (one that did not answer is
// ErrUnavailable naming it; one that answered keeps its answer).
package fail
