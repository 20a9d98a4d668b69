package oauth

import "errors"

// ErrRefused marks an answer of the token endpoint that will not change
// on retry: the refresh token or device code was refused (invalid_grant,
// access_denied, expired_token, invalid_client).
var ErrRefused = errors.New("refused by the token endpoint")

// ErrTransient marks a failure worth retrying: the endpoint could not be
// reached or answered with a server error.
var ErrTransient = errors.New("token endpoint failed")

// ErrPending is the device flow waiting for the user.
var ErrPending = errors.New("authorization pending")

// ErrSlowDown is the device flow asking to poll less often.
var ErrSlowDown = errors.New("slow down")

// ErrNoLogin marks a credential that needs a new login.
var ErrNoLogin = errors.New("needs a new login")
