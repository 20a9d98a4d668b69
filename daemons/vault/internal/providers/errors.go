package providers

import "errors"

// ErrInvalid marks a provider file with an error; the message names the
// file and line and what to write instead.
var ErrInvalid = errors.New("invalid provider file")

// ErrUntrusted marks a providers directory or file that another user than
// root or the vault's own could have written.
var ErrUntrusted = errors.New("untrusted provider file")

// ErrUnknown marks a provider name no file defines.
var ErrUnknown = errors.New("unknown provider")
