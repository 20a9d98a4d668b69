// Package seal holds the vault's master key and what it does: AES-256-GCM
// sealing of secret values (a fresh random nonce per record, associated
// data that binds a record to its place so records cannot be swapped),
// keyed fingerprints of values for listing, and a key id that tells one
// key from another without revealing it. It also reads and creates key
// files: a key given by the operator (TEROK_VAULT_KEY_FILE) or one the
// vault generated into its own directory.
//
// The master key never leaves this package; every use goes through a
// subkey derived with HKDF-SHA256 for that one purpose.
package seal
