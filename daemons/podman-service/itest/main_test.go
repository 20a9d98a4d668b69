package itest

import (
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

// TestMain removes the podman-service binary built for the tests.
func TestMain(m *testing.M) { testkit.Main(m) }
