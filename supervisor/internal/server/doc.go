// Package server is the core of terok-supervisord: the tree of process
// groups built from the configuration, reread/update, orderly shutdown, and
// the XML-RPC and log-tail HTTP interface Python's supervisorctl speaks.
package server
