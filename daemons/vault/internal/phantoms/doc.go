// Package phantoms mints and keeps the per-task phantom tokens: random
// tokens in a provider's key format, each bound to one project, task and
// provider, and to that provider's upstream and routes as they were when
// it was minted. Only a token's SHA-256 is stored (atomically, at every
// change), so a restart keeps live phantoms and revoked ones stay revoked,
// and the stored file gives nobody a usable token.
package phantoms
