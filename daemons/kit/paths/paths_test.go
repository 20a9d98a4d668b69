package paths

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestSocket(t *testing.T) {
	t.Setenv(EnvRunDir, "/tmp/x")
	if got := Socket("", Gate); got != "/tmp/x/gate.sock" {
		t.Fatalf("got %s", got)
	}
	if got := Socket("/a/b.sock", Gate); got != "/a/b.sock" {
		t.Fatalf("flag must win, got %s", got)
	}
}

func TestDirFallbacks(t *testing.T) {
	t.Setenv(EnvRunDir, "")
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/7")
	if got := RunDir(); got != filepath.Join("/run/user/7", "terok") {
		t.Fatalf("got %s", got)
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	want := "/run/terok"
	if os.Geteuid() != 0 {
		want = "/tmp/terok-" + strconv.Itoa(os.Geteuid())
	}
	if got := RunDir(); got != want {
		t.Fatalf("got %s want %s", got, want)
	}
}

func TestConfigAndStateDirs(t *testing.T) {
	t.Setenv(EnvConfigDir, "")
	t.Setenv(EnvStateDir, "")
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("HOME", "/home/podman")
	if got := ConfigDir(); got != "/home/podman/.config/terok" {
		t.Fatalf("config %s", got)
	}
	if got := StateDir(); got != "/home/podman/.local/share/terok" {
		t.Fatalf("state %s", got)
	}
	t.Setenv("XDG_DATA_HOME", "/x")
	if got := StateDir(); got != "/x/terok" {
		t.Fatalf("xdg state %s", got)
	}
	t.Setenv(EnvStateDir, "/s")
	t.Setenv(EnvConfigDir, "/c")
	if StateDir() != "/s" || ConfigDir() != "/c" {
		t.Fatal("overrides")
	}
}
