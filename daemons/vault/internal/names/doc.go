// Package names checks the names the vault takes from callers: projects
// and tasks (the same rules as terok-web and the gate, so a name valid
// there is valid here) and providers. A name becomes part of a file path
// (a task's audit file) and of URL paths, so anything outside the rules is
// refused before it reaches either.
package names
