// Package prompt reads a secret the way terok-vault's and terok's CLIs
// take one: from a terminal without echo, or whole from standard input
// when that is a pipe or a file. It wraps golang.org/x/term.
package prompt
