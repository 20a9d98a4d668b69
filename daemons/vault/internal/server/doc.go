// Package server is one running terok-vault: it opens the store, the
// phantoms and the audit under the vault's state directory, loads the
// providers, and serves the credential broker on TCP and the admin API on
// vault.sock (health, providers, secrets without values, phantoms, audit,
// logins).
package server
