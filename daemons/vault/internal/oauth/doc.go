// Package oauth runs subscription logins on the vault's side and keeps
// their access tokens fresh. A login is either the device flow (RFC 8628:
// the user types a code at the provider's page, the vault polls) or a
// refresh token the user pastes, exchanged at once. Afterwards exactly
// one Refresher per credential refreshes it before it expires, one
// refresh at a time, saving a rotated refresh token before the new access
// token is used, so a refresh token that has been answered is never sent
// again. A refresh the token endpoint refuses (invalid_grant) marks the
// credential as needing a new login; a failure of the network or the
// endpoint is retried with a bounded back-off.
package oauth
