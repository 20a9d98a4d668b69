// Package e2ekit holds the helpers both whole-tree test packages use (the
// native tree in e2e/, the image in e2e/docker): the host's git client
// with a clean configuration, a listener on the host for a task to reach,
// the tail of an output.
package e2ekit
