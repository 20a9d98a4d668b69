// Package secrets is the vault's encrypted store: one credential per
// provider and scope (global, or one project, which wins over global),
// each value sealed with AES-GCM under the vault's key and bound to its
// provider, scope and kind, in one file replaced atomically at every
// change. Only metadata (provider, scope, kind, when set, a keyed
// fingerprint) is readable without the key; no function here returns a
// value except Resolve, which the broker calls to inject it.
package secrets
