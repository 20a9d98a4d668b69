// Package paths resolves where terok's unix sockets, config and state live.
//
// One variable, TEROK_RUN_DIR, points every daemon and CLI of a tree at the
// same directory. Without it the directory is $XDG_RUNTIME_DIR/terok, and
// without that /run/terok for root or /tmp/terok-<uid> for anybody else.
// That last one lies in a directory everybody may write: it is created
// mode 0700 and used only while it is the user's own with that mode
// (PrepareSocketDir, CheckSocketDir).
package paths

import (
	"os"
	"path/filepath"
)

// EnvRunDir overrides the run directory for every binary.
const EnvRunDir = "TEROK_RUN_DIR"

// Socket names, as used in <run dir>/<name>.sock.
const (
	Supervisor = "supervisor"
	Gate       = "gate"
	Shield     = "shield"
	Podman     = "podman"
	// PodmanService is podman-service's own API (health, status); Podman's
	// REST API itself answers on Podman.
	PodmanService = "podman-service"
	Web           = "web"
	// Vault is terok-vault's admin API (secrets, phantom tokens, audit).
	Vault = "vault"
)

// Dir returns the run directory from the environment.
func RunDir() string {
	if d := os.Getenv(EnvRunDir); d != "" {
		return d
	}
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" {
		return filepath.Join(x, "terok")
	}
	if os.Geteuid() == 0 {
		return "/run/terok"
	}
	return tmpRunDir(os.Geteuid())
}

// Socket returns flagValue when it is set, else <RunDir()>/<name>.sock.
func Socket(flagValue, name string) string {
	if flagValue != "" {
		return flagValue
	}
	return filepath.Join(RunDir(), name+".sock")
}

// EnvConfigDir and EnvStateDir override the config and state directories.
const (
	EnvConfigDir = "TEROK_CONFIG_DIR"
	EnvStateDir  = "TEROK_STATE_DIR"
)

// ConfigDir is where projects, global config and shield profiles live:
// $TEROK_CONFIG_DIR, else $XDG_CONFIG_HOME/terok, else ~/.config/terok
// (/home/podman/.config/terok in the image).
func ConfigDir() string {
	return xdgDir(EnvConfigDir, "XDG_CONFIG_HOME", ".config")
}

// StateDir is where tasks, gate repos, shield state and logs live:
// $TEROK_STATE_DIR, else $XDG_DATA_HOME/terok, else ~/.local/share/terok
// (/home/podman/.local/share/terok in the image).
func StateDir() string {
	return xdgDir(EnvStateDir, "XDG_DATA_HOME", filepath.Join(".local", "share"))
}

func xdgDir(override, xdg, homeRel string) string {
	if d := os.Getenv(override); d != "" {
		return d
	}
	if d := os.Getenv(xdg); d != "" {
		return filepath.Join(d, "terok")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		home = "/"
	}
	return filepath.Join(home, homeRel, "terok")
}
