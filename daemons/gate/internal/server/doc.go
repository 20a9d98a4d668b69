// Package server composes terok-gate: git smart HTTP on TCP, the admin API
// on the unix socket, upstream polling and push forwarding, over one token
// store and one repository manager.
package server
