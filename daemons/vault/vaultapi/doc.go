// Package vaultapi is the typed client of terok-vault's admin API on its
// unix socket (vault.sock), with the wire types. It depends only on the
// kit and the standard library, so terok-web and the CLIs import it
// instead of building JSON by hand. docs/credentials.md describes the same
// API for humans.
//
// No answer of this API ever holds a secret value: a secret is listed by
// provider, scope, kind, when it was set and a fingerprint. The one
// credential that crosses it outward is a phantom token, returned once
// when it is minted, which is worth nothing outside the vault's broker.
package vaultapi
