// Package fakedaemons stands in for the daemons terok-web talks to — the
// gate, Podman, the shield, the supervisor — in memory, for tests of
// terok-web's front ends (package api, package server) through its real
// domain layer. A container runs until it is stopped or Exit is called;
// Err makes one call fail. Only tests import it; the integration tests
// run the real daemons.
package fakedaemons
