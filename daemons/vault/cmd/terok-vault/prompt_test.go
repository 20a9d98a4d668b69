package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

// TestPromptNoEcho: typed at a terminal, the value is asked for and not
// echoed back.
func TestPromptNoEcho(t *testing.T) {
	e := newEnv(t)
	e.start()
	value := secretValue("sk-typed-")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, "secret", "set", "fake", "--project", "demo")
	cmd.Env = e.environ()
	seen, stdout, waitErr := testkit.AtTerminal(t, cmd, "key (project demo): ", value)
	if waitErr != nil || !strings.Contains(stdout, "stored fake (project demo)") {
		t.Fatalf("secret set at a terminal: %v %q", waitErr, stdout)
	}
	if strings.Contains(seen, value) {
		t.Errorf("the value was echoed to the terminal: %q", seen)
	}
	list, err := e.client.ListSecrets(ctx, "demo")
	if err != nil || len(list) != 1 {
		t.Fatalf("list %+v %v", list, err)
	}
}
