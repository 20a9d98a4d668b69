// Package confkit holds the pieces the daemons' typed configurations
// share (docs/conventions.md, "Configuration"): a JSON config file read
// strictly (an unknown key is an error), a duration written "5m", and a
// bind address completed with the daemon's port.
package confkit
