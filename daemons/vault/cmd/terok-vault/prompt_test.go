package main

import (
	"bytes"
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
	m, s := testkit.OpenPTY(t)
	value := secretValue("sk-typed-")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, "secret", "set", "fake", "--project", "demo")
	cmd.Env = e.environ()
	cmd.Stdin, cmd.Stderr = s, s
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Read the prompt, then type.
	var seen bytes.Buffer
	buf := make([]byte, 512)
	for !strings.Contains(seen.String(), "key (project demo): ") {
		m.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, err := m.Read(buf)
		if err != nil {
			t.Fatalf("no prompt: %v %q", err, seen.String())
		}
		seen.Write(buf[:n])
	}
	m.Write([]byte(value + "\n"))
	waitErr := cmd.Wait()
	m.SetReadDeadline(time.Now().Add(time.Second))
	for {
		n, err := m.Read(buf)
		seen.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if waitErr != nil || !strings.Contains(stdout.String(), "stored fake (project demo)") {
		t.Fatalf("secret set at a terminal: %v %q", waitErr, stdout.String())
	}
	if strings.Contains(seen.String(), value) {
		t.Errorf("the value was echoed to the terminal: %q", seen.String())
	}
	list, err := e.client.ListSecrets(ctx, "demo")
	if err != nil || len(list) != 1 {
		t.Fatalf("list %+v %v", list, err)
	}
}
