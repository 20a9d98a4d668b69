package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestConfig(t *testing.T) {
	t.Setenv("TEROK_RUN_DIR", "/run/x")
	t.Setenv(EnvHooksDir, "/etc/h")
	c := Default()
	if c.PodmanSocket != "/run/x/podman.sock" || c.ServiceSocket != "/run/x/podman-service.sock" {
		t.Fatalf("%+v", c)
	}
	f := filepath.Join(t.TempDir(), "c.toml")
	os.WriteFile(f, []byte("probe_interval = \"2s\"\nhooks_dir = \"/etc/file\"\n"), 0o644)
	if err := c.LoadFile(f); err != nil || c.ProbeInterval != 2*time.Second || c.HooksDir != "/etc/file" {
		t.Fatalf("%+v %v", c, err)
	}
	if err := c.ApplyEnv(os.Getenv); err != nil {
		t.Fatal(err)
	}
	if c.HooksDir != "/etc/h" || c.Validate() != nil {
		t.Fatalf("env over file: %+v", c)
	}
	os.WriteFile(f, []byte("hook_dir = \"/typo\"\n"), 0o644)
	if err := c.LoadFile(f); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown key: %v", err)
	}
	os.WriteFile(f, []byte("start_timeout = \"soon\"\n"), 0o644)
	if err := c.LoadFile(f); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad duration: %v", err)
	}
	bad := []func(*Config){
		func(c *Config) { c.PodmanSocket = "rel.sock" },
		func(c *Config) { c.ServiceSocket = c.PodmanSocket },
		func(c *Config) { c.HooksDir = "hooks" },
		func(c *Config) { c.ProbeInterval = 0 },
	}
	for i, f := range bad {
		d := Default()
		f(&d)
		if err := d.Validate(); !errors.Is(err, ErrInvalid) {
			t.Fatalf("case %d: %v", i, err)
		}
	}
}
