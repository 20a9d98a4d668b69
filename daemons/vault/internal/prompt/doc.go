// Package prompt reads a secret the way the vault's CLI takes one: from a
// terminal without echo, or whole from standard input when that is a pipe
// or a file. It wraps golang.org/x/term.
package prompt
