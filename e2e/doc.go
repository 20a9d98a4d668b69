// Package e2e holds the whole-stack tests: they build the real binaries,
// run them under terok-supervisord (natively, and later inside the Docker
// image) and talk to them the way a user does.
package e2e
