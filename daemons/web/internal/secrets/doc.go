// Package secrets is terok-web's service for the credentials terok-vault
// keeps: set, list and remove a provider's secret (globally or for one
// project) and list the vault's providers, for the API and the UI.
//
// A value passes through on its way to vault.sock and is kept nowhere:
// not in a field, a log line or an error. Nothing here returns a value;
// the vault has no route that would give one.
package secrets
