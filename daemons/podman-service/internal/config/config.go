package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/terok-ai/terok-in-docker/daemons/kit/paths"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/serviceapi"
)

// ErrInvalid is wrapped by every Validate error.
var ErrInvalid = errors.New("invalid podman-service configuration")

// Environment variables read by ApplyEnv.
const (
	EnvHooksDir = "TEROK_HOOKS_DIR"
	EnvPodman   = "TEROK_PODMAN_BIN"
)

// DefaultHooksDir is where terok's OCI hooks (the shield's) are installed.
const DefaultHooksDir = "/etc/containers/oci/hooks.d"

// Config is everything `podman-service serve` needs.
type Config struct {
	PodmanSocket  string        `toml:"podman_socket"`  // Podman's API (podman.sock)
	ServiceSocket string        `toml:"service_socket"` // podman-service's own API
	HooksDir      string        `toml:"hooks_dir"`      // written to [engine] hooks_dir
	Podman        string        `toml:"podman"`         // podman binary
	StartTimeout  time.Duration `toml:"start_timeout"`
	ProbeInterval time.Duration `toml:"probe_interval"`
}

// Default returns the defaults for the current environment.
func Default() Config {
	return Config{
		PodmanSocket:  paths.Socket("", paths.Podman),
		ServiceSocket: paths.Socket("", serviceapi.SocketName),
		HooksDir:      DefaultHooksDir,
		Podman:        "podman",
		StartTimeout:  60 * time.Second,
		ProbeInterval: 5 * time.Second,
	}
}

// LoadFile overlays the keys set in a TOML file.
func (c *Config) LoadFile(path string) error {
	if path == "" {
		return nil
	}
	var f struct {
		PodmanSocket  string `toml:"podman_socket"`
		ServiceSocket string `toml:"service_socket"`
		HooksDir      string `toml:"hooks_dir"`
		Podman        string `toml:"podman"`
		StartTimeout  string `toml:"start_timeout"`
		ProbeInterval string `toml:"probe_interval"`
	}
	md, err := toml.DecodeFile(path, &f)
	if err != nil {
		return fmt.Errorf("read config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return fmt.Errorf("%w: %s: unknown key %q", ErrInvalid, path, und[0].String())
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&c.PodmanSocket, f.PodmanSocket)
	set(&c.ServiceSocket, f.ServiceSocket)
	set(&c.HooksDir, f.HooksDir)
	set(&c.Podman, f.Podman)
	for _, d := range []struct {
		dst *time.Duration
		v   string
		k   string
	}{{&c.StartTimeout, f.StartTimeout, "start_timeout"}, {&c.ProbeInterval, f.ProbeInterval, "probe_interval"}} {
		if d.v == "" {
			continue
		}
		v, err := time.ParseDuration(d.v)
		if err != nil {
			return fmt.Errorf("%w: %s: %s: %v (write e.g. \"30s\")", ErrInvalid, path, d.k, err)
		}
		*d.dst = v
	}
	return nil
}

// ApplyEnv overlays TEROK_HOOKS_DIR and TEROK_PODMAN_BIN when set. The
// order of every terok daemon: Default, LoadFile, ApplyEnv, flags,
// Validate.
func (c *Config) ApplyEnv(getenv func(string) string) error {
	if v := getenv(EnvHooksDir); v != "" {
		c.HooksDir = v
	}
	if v := getenv(EnvPodman); v != "" {
		c.Podman = v
	}
	return nil
}

// Validate checks the values and names the fix.
func (c Config) Validate() error {
	for name, p := range map[string]string{"podman socket": c.PodmanSocket, "service socket": c.ServiceSocket} {
		if p == "" || !filepath.IsAbs(p) {
			return fmt.Errorf("%w: %s %q must be an absolute path", ErrInvalid, name, p)
		}
	}
	if c.PodmanSocket == c.ServiceSocket {
		return fmt.Errorf("%w: the podman socket and the service socket are both %s; give them different paths", ErrInvalid, c.PodmanSocket)
	}
	if c.HooksDir != "" && !filepath.IsAbs(c.HooksDir) {
		return fmt.Errorf("%w: hooks dir %q must be an absolute path", ErrInvalid, c.HooksDir)
	}
	if c.StartTimeout <= 0 || c.ProbeInterval <= 0 {
		return fmt.Errorf("%w: start_timeout and probe_interval must be positive", ErrInvalid)
	}
	return nil
}
