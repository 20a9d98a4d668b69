package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// TestBadConfigExits2: a configuration terok-web cannot use stops it
// before it listens, exit 2, naming the setting and the fix.
func TestBadConfigExits2(t *testing.T) {
	bin := testkit.Build(t, "github.com/terok-ai/terok-in-docker/daemons/web/cmd/terok-web")
	dir := t.TempDir()
	entry := filepath.Join(dir, "terok-entry")
	os.WriteFile(entry, []byte("#!/bin/sh\n"), 0o755)
	cfgFile := filepath.Join(dir, "web.json")
	os.WriteFile(cfgFile, []byte(`{"lisen": "x"}`), 0o600)
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"listen", []string{"TEROK_WEB_LISTEN=8566"}, nil, "TEROK_WEB_LISTEN"},
		{"public url", []string{"TEROK_PUBLIC_URL=terok.example.org"}, nil, "TEROK_PUBLIC_URL"},
		{"session", []string{"TEROK_WEB_SESSION_IDLE=soon"}, nil, "TEROK_WEB_SESSION_IDLE"},
		{"token", []string{"TEROK_WEB_TOKEN=short"}, nil, "TEROK_WEB_TOKEN"},
		{"file", nil, []string{"--config", cfgFile}, `unknown field "lisen"`},
		{"flag", nil, []string{"--listen", "nowhere"}, "want host:port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"serve", "--entry", entry}, tc.args...)...)
			cmd.Env = append(os.Environ(), append(tc.env, "TEROK_RUN_DIR="+dir, "TEROK_STATE_DIR="+dir, "TEROK_CONFIG_DIR="+dir)...)
			_, stderr, code := testkit.Run(cmd)
			if code != 2 || !strings.Contains(stderr, tc.want) || !strings.HasPrefix(stderr, "terok-web: ") {
				t.Fatalf("exit %d, want 2 naming %s:\n%s", code, tc.want, stderr)
			}
		})
	}
}
