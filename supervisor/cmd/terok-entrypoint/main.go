// Command terok-entrypoint is the first process of the terok Docker image.
// As root it prepares the container — volume ownership, device modes,
// /run/terok, the gate admin and web tokens, supervisor overrides from
// TEROK_SUPERVISOR__<PROGRAM>__<KEY> variables, the shield's OCI hooks —
// prints a banner, and then replaces itself with terok-supervisord (so the
// supervisor is PID 1). Given arguments, it does the same preparation and
// runs them as the user podman instead (docker run -it … terok-in-docker bash).
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/terok-ai/terok-in-docker/daemons/kit/buildinfo"
	"github.com/terok-ai/terok-in-docker/supervisor/internal/config"
	"github.com/terok-ai/terok-in-docker/supervisor/internal/entrypoint"
)

// exitUsage is the exit status for input the entrypoint cannot use (a
// malformed variable, a bad token, a broken supervisor configuration).
const exitUsage = 2

// settings are read from the environment (the image sets every one).
type settings struct {
	user, conf, supervisord, shield, runDir, hooksDir, logDir string
	configDir, stateDir, containersDir                        string
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "terok-entrypoint: %v\n", err)
		if errors.Is(err, entrypoint.ErrMalformed) || errors.Is(err, entrypoint.ErrBadToken) || errors.Is(err, config.ErrInvalid) {
			os.Exit(exitUsage)
		}
		os.Exit(1)
	}
}

func run(args []string) error {
	if os.Geteuid() != 0 {
		if len(args) > 0 {
			return execve(args, os.Environ())
		}
		return errors.New("must start as root (it fixes volume ownership and device modes, then drops to the user podman); do not pass --user to docker run, use `docker exec -u podman` for a shell")
	}
	s := settings{
		user:        env("TEROK_USER", "podman"),
		conf:        env("TEROK_SUPERVISOR_CONF", "/etc/terok/supervisord.conf"),
		supervisord: env("TEROK_SUPERVISORD_BIN", "/usr/local/bin/terok-supervisord"),
		shield:      "/usr/local/bin/terok-shield",
		runDir:      env("TEROK_RUN_DIR", "/run/terok"),
		hooksDir:    env("TEROK_HOOKS_DIR", "/etc/terok/hooks.d"),
		logDir:      env("TEROK_LOG_DIR", "/var/log/terok"),
	}
	ovs, err := entrypoint.ParseOverrides(os.Environ())
	if err != nil {
		return err
	}
	u, err := user.Lookup(s.user)
	if err != nil {
		return fmt.Errorf("user %s: %w (the image creates it; TEROK_USER names another)", s.user, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	home := u.HomeDir
	s.configDir = env("TEROK_CONFIG_DIR", filepath.Join(home, ".config", "terok"))
	s.stateDir = env("TEROK_STATE_DIR", filepath.Join(home, ".local", "share", "terok"))
	s.containersDir = filepath.Join(home, ".local", "share", "containers")

	xdg := env("XDG_RUNTIME_DIR", "/run/user/"+u.Uid)
	if err := prepareRuntime(s, xdg, uid, gid); err != nil {
		return err
	}
	if err := ownVolumes(s, home, uid, gid); err != nil {
		return err
	}
	for _, d := range entrypoint.Devices {
		if err := entrypoint.OpenDevice(d); err != nil {
			// podman-service's preflight reports it too, with the fix.
			fmt.Fprintf(os.Stderr, "terok-entrypoint: warning: %v\n", err)
		}
	}

	gateTok, err := entrypoint.SettleToken("TEROK_GATE_ADMIN_TOKEN", os.Getenv("TEROK_GATE_ADMIN_TOKEN"),
		filepath.Join(s.stateDir, "gate", "admin-token"), "terok-admin-", uid, gid)
	if err != nil {
		return err
	}
	webTok, err := entrypoint.SettleToken("TEROK_WEB_TOKEN", os.Getenv("TEROK_WEB_TOKEN"),
		filepath.Join(s.stateDir, "web", "access-token"), "terok-web-", uid, gid)
	if err != nil {
		return err
	}
	os.Setenv("TEROK_WEB_TOKEN", webTok.Value)
	// The shield lets tasks reach the gate's and the vault broker's ports
	// (supervisord.conf).
	os.Setenv("TEROK_GATE_PORT", entrypoint.PortOf(os.Getenv("TEROK_GATE_BIND"), "9418"))
	os.Setenv("TEROK_VAULT_PORT", entrypoint.PortOf(os.Getenv("TEROK_VAULT_BIND"), "9419"))

	envConf := filepath.Join(s.runDir, "supervisor-env.conf")
	if err := entrypoint.WriteFile(envConf, entrypoint.RenderOverrides(ovs), 0o644, 0, 0); err != nil {
		return fmt.Errorf("write %s: %w", envConf, err)
	}
	for _, o := range ovs {
		fmt.Printf("terok-entrypoint: %s sets %s of [program:%s]\n", o.Var, o.Key, o.Program)
	}

	if len(args) == 0 {
		// Refuse a configuration the supervisor would refuse, before the
		// banner, naming file, line and key (the generated file's comments
		// name the variable behind each key).
		if _, err := config.Load(s.conf); err != nil {
			return err
		}
	}
	hooks := exec.Command(s.shield, "install-hooks", "--dir", s.hooksDir, "--socket", filepath.Join(s.runDir, "shield.sock"))
	if out, err := hooks.CombinedOutput(); err != nil {
		return fmt.Errorf("install the shield's OCI hooks into %s: %v\n%s", s.hooksDir, err, out)
	}

	info := entrypoint.BannerInfo{Version: buildinfo.Version, PublicURL: os.Getenv("TEROK_PUBLIC_URL"),
		PublicHost: os.Getenv("TEROK_PUBLIC_HOST"), WebListen: env("TEROK_WEB_LISTEN", "0.0.0.0:8566"),
		GateBind: os.Getenv("TEROK_GATE_BIND"), WebToken: webTok, GateToken: gateTok}
	if len(args) > 0 {
		return runAs(u, uid, gid, xdg, args)
	}
	info.Write(os.Stdout)
	return execve([]string{s.supervisord, "-c", s.conf}, os.Environ())
}

// runAs replaces the entrypoint with args run as the user u.
func runAs(u *user.User, uid, gid int, xdg string, args []string) error {
	groups, err := u.GroupIds()
	if err != nil {
		return fmt.Errorf("groups of %s: %w", u.Username, err)
	}
	gids := make([]int, 0, len(groups))
	for _, g := range groups {
		if n, err := strconv.Atoi(g); err == nil {
			gids = append(gids, n)
		}
	}
	envv := os.Environ()
	for k, v := range map[string]string{"HOME": u.HomeDir, "USER": u.Username, "LOGNAME": u.Username, "XDG_RUNTIME_DIR": xdg} {
		envv = setEnv(envv, k, v)
	}
	if err := os.Chdir(u.HomeDir); err != nil {
		return err
	}
	if err := unix.Setgroups(gids); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := unix.Setgid(gid); err != nil {
		return fmt.Errorf("setgid: %w", err)
	}
	if err := unix.Setuid(uid); err != nil {
		return fmt.Errorf("setuid: %w", err)
	}
	return execve(args, envv)
}

// execve replaces this process with args[0] (searched on PATH).
func execve(args []string, envv []string) error {
	path, err := exec.LookPath(args[0])
	if err != nil {
		return fmt.Errorf("run %s: %w", args[0], err)
	}
	return syscall.Exec(path, args, envv)
}

// setEnv returns envv with name set to value, replacing an earlier entry.
func setEnv(envv []string, name, value string) []string {
	out := make([]string, 0, len(envv)+1)
	for _, kv := range envv {
		if len(kv) > len(name) && kv[:len(name)+1] == name+"=" {
			continue
		}
		out = append(out, kv)
	}
	return append(out, name+"="+value)
}

// prepareRuntime makes the runtime directories: the sockets' (owned by the
// user, who runs most daemons; root's sockets there are root-owned —
// terok-shield sets the directory to 0755 when it starts, so a
// group-writable one would not last), the user's XDG_RUNTIME_DIR, the logs'.
func prepareRuntime(s settings, xdg string, uid, gid int) error {
	if os.Getpid() == 1 {
		// A (re)started container is a fresh boot: what an earlier run left
		// in the runtime directories (sockets, pid files, Podman's runtime
		// state naming dead processes) is stale. /run is no tmpfs in Docker.
		for _, d := range []string{s.runDir, xdg} {
			if err := entrypoint.EmptyDir(d); err != nil {
				return fmt.Errorf("clear stale runtime directory %s: %w", d, err)
			}
		}
	}
	if err := os.MkdirAll(s.runDir, 0o755); err != nil {
		return err
	}
	if err := os.Chown(s.runDir, uid, gid); err != nil {
		return err
	}
	if err := os.Chmod(s.runDir, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(xdg), 0o755); err != nil {
		return err
	}
	if _, err := entrypoint.OwnDir(xdg, "/run", uid, gid, false); err != nil {
		return fmt.Errorf("runtime dir %s: %w", xdg, err)
	}
	if err := os.Chmod(xdg, 0o700); err != nil {
		return err
	}
	return os.MkdirAll(s.logDir, 0o755)
}

// ownVolumes gives the three volumes of docs/docker.md to the user: the
// terok ones with their content, Podman's storage only at its top (files
// below belong to sub-ids).
func ownVolumes(s settings, home string, uid, gid int) error {
	for _, v := range []struct {
		dir       string
		recursive bool
	}{{s.configDir, true}, {s.stateDir, true}, {s.containersDir, false}} {
		changed, err := entrypoint.OwnDir(v.dir, home, uid, gid, v.recursive)
		if err != nil {
			return fmt.Errorf("volume %s: %w", v.dir, err)
		}
		if changed {
			fmt.Printf("terok-entrypoint: %s now belongs to %s\n", v.dir, s.user)
		}
	}
	return nil
}
