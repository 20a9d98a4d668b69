// Package tokens holds the gate's credentials: the admin token and the
// per-task tokens (terok-g-<32 hex>), each bound to one project.
//
// Task tokens are stored as SHA-256 hashes in one JSON file (0600, replaced
// atomically, read on start), so the file never holds a usable secret.
// Lookups compare hashes in constant time against every entry.
package tokens
