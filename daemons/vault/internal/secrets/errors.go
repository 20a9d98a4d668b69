package secrets

import "errors"

// ErrNotFound marks a provider and scope with no stored credential.
var ErrNotFound = errors.New("no credential stored")

// ErrCorrupt marks a store file that cannot be read as a store.
var ErrCorrupt = errors.New("store file is damaged")

// ErrWrongKey marks a store sealed with another key than the one given.
var ErrWrongKey = errors.New("store was sealed with another key")

// ErrBadValue marks a value that cannot be a credential (empty, too long,
// characters that cannot go in an HTTP header).
var ErrBadValue = errors.New("unusable value")

// ErrBroken marks a record that does not open with the vault's key: it
// was changed or moved outside the vault.
var ErrBroken = errors.New("stored credential does not open")
