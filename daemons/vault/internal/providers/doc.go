// Package providers holds what the vault knows of each API provider: its
// upstream (an https origin), the header the real credential goes in, where
// an agent's phantom token may arrive, the shape of its keys (so phantoms
// pass a client's format check), the methods and paths a task may call,
// the environment an agent reads its base URL and key from, and an
// optional OAuth login.
//
// Providers are data: files shipped inside the binary (shipped/*.provider)
// and files root adds to the vault's own directory
// (<config>/system/vault/providers/<name>.provider), which win over a
// shipped file of the same name. A directory or file another user could
// have written is refused, and so is a file with any error, naming file
// and line with the fix.
package providers
