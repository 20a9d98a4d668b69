package broker

import "errors"

// ErrNoCredential is what a Credentials answers when no credential is
// stored for the provider (the broker answers 401 saying so).
var ErrNoCredential = errors.New("no credential stored")

// ErrLoginExpired is what a Credentials answers when a subscription login
// can no longer be refreshed (401: log in again).
var ErrLoginExpired = errors.New("login expired")
