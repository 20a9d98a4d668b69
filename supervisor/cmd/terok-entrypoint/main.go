// Command terok-entrypoint is the first process of the terok Docker image.
// As root it prepares the container — volume ownership (the volumes'
// root-owned system/ subtrees kept out of the hand-over), device modes,
// /run/terok (root:podman 01775), the gate admin and web tokens, supervisor overrides from
// TEROK_SUPERVISOR__<PROGRAM>__<KEY> variables, the shield's OCI hooks —
// prints a banner, and then replaces itself with terok-supervisord (so the
// supervisor is PID 1). Given arguments, it does the same preparation and
// runs them as the user podman instead (docker run -it … terok-in-docker bash).
// With the one argument --prepare-volumes it only lays out TEROK_CONFIG_DIR
// and TEROK_STATE_DIR for TEROK_USER (scripts/run.sh as root, natively).
package main

import (
	"encoding/json"
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
	podmanService                                             string
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

// prepareVolumes is the argument that makes the entrypoint prepare only
// the config and state volumes (scripts/run.sh as root, natively).
const prepareVolumes = "--prepare-volumes"

func run(args []string) error {
	if len(args) == 1 && args[0] == prepareVolumes {
		return volumesOnly()
	}
	if os.Geteuid() != 0 {
		if len(args) > 0 {
			return execve(args, os.Environ())
		}
		return errors.New("must start as root (it fixes volume ownership and device modes, then drops to the user podman); do not pass --user to docker run, use `docker exec -u podman` for a shell")
	}
	s := settings{
		user:          env("TEROK_USER", "podman"),
		conf:          env("TEROK_SUPERVISOR_CONF", "/etc/terok/supervisord.conf"),
		supervisord:   env("TEROK_SUPERVISORD_BIN", "/usr/local/bin/terok-supervisord"),
		shield:        "/usr/local/bin/terok-shield",
		podmanService: "/usr/local/bin/podman-service",
		runDir:        env("TEROK_RUN_DIR", "/run/terok"),
		hooksDir:      env("TEROK_HOOKS_DIR", "/etc/terok/hooks.d"),
		logDir:        env("TEROK_LOG_DIR", "/var/log/terok"),
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
	// The web token lives where terok-web keeps it (web/token); volumes
	// of earlier versions have it as web/access-token.
	webTokFile := filepath.Join(s.stateDir, "web", "token")
	if err := entrypoint.MoveToken(filepath.Join(s.stateDir, "web", "access-token"), webTokFile); err != nil {
		return err
	}
	webTok, err := entrypoint.SettleToken("TEROK_WEB_TOKEN", os.Getenv("TEROK_WEB_TOKEN"), webTokFile, "terok-web-", uid, gid)
	if err != nil {
		return err
	}
	os.Setenv("TEROK_WEB_TOKEN", webTok.Value)
	// terok-web's login page says `docker logs <id>` in the image.
	cid := containerID()
	os.Setenv("TEROK_IN_IMAGE", "1")
	os.Setenv("TEROK_CONTAINER_ID", cid)
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
		GateBind: os.Getenv("TEROK_GATE_BIND"), WebToken: webTok, GateToken: gateTok, ContainerID: cid}
	warning := usernsWarning(s.podmanService, uid, gid)
	if len(args) > 0 {
		if warning != "" {
			fmt.Fprint(os.Stderr, warning)
		}
		return runAs(u, uid, gid, xdg, args)
	}
	info.Write(os.Stdout)
	// Below the banner, where it is read first: nothing can run without it.
	fmt.Print(warning)
	return execve([]string{s.supervisord, "-c", s.conf}, os.Environ())
}

// containerID is this container's short id, "" when it cannot be told
// (entrypoint.ContainerID).
func containerID() string {
	host, _ := os.Hostname()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return entrypoint.ContainerID(nil, host)
	}
	defer f.Close()
	return entrypoint.ContainerID(f, host)
}

// volumesOnly prepares TEROK_CONFIG_DIR and TEROK_STATE_DIR for a native
// tree run as root (scripts/run.sh): each is handed to TEROK_USER but its
// system/ subtree, which is laid out as in the image. Nothing else
// happens: no runtime directories, tokens or supervisor.
func volumesOnly() error {
	if os.Geteuid() != 0 {
		return errors.New(prepareVolumes + " needs root (it gives the volumes to TEROK_USER and their system/ subtrees to root)")
	}
	name := os.Getenv("TEROK_USER")
	u, err := user.Lookup(name)
	if err != nil || name == "" {
		return fmt.Errorf("TEROK_USER=%q: %v (name the unprivileged user the daemons run as)", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	s := settings{user: name, configDir: os.Getenv("TEROK_CONFIG_DIR"), stateDir: os.Getenv("TEROK_STATE_DIR")}
	if s.configDir == "" || s.stateDir == "" {
		return errors.New(prepareVolumes + " needs TEROK_CONFIG_DIR and TEROK_STATE_DIR")
	}
	vault, err := vaultOwner()
	if err != nil {
		return err
	}
	for _, dir := range []string{s.configDir, s.stateDir} {
		if err := prepareVolume(s, dir, filepath.Dir(dir), uid, gid, vault); err != nil {
			return err
		}
	}
	return nil
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

// prepareRuntime makes the runtime directories. The sockets' directory
// belongs to root, group gid (the user's), mode 01777 without "other"
// write, i.e. 01775: the user's daemons create and remove their own
// sockets there, and the sticky bit keeps them from removing, renaming or
// replacing anything root put there (supervisor.sock, shield.sock, the
// supervisor's pidfile, supervisor-env.conf, which root reads). The
// user's XDG_RUNTIME_DIR is the user's, 0700. The logs' directory is
// root's, 0700: program output can hold secrets, and the logs are read
// through the supervisor (supervisorctl tail, terok-web).
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
	if err := entrypoint.RunDir(s.runDir, gid); err != nil {
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
	return entrypoint.LogDir(s.logDir)
}

// ownVolumes gives the three volumes of docs/docker.md to the user: the
// terok ones with their content but their system/ subtrees, which
// belong to root (and the vault's user); Podman's storage only at its top
// (files below belong to sub-ids).
func ownVolumes(s settings, home string, uid, gid int) error {
	vault, err := vaultOwner()
	if err != nil {
		return err
	}
	for _, dir := range []string{s.configDir, s.stateDir} {
		if err := prepareVolume(s, dir, home, uid, gid, vault); err != nil {
			return err
		}
	}
	if err := entrypoint.NoLinksBelow(s.containersDir, home); err != nil {
		return err
	}
	changed, err := entrypoint.OwnDir(s.containersDir, home, uid, gid, false)
	if err != nil {
		return fmt.Errorf("volume %s: %w", s.containersDir, err)
	}
	if changed {
		fmt.Printf("terok-entrypoint: %s now belongs to %s\n", s.containersDir, s.user)
	}
	return nil
}

// prepareVolume hands the terok volume dir (below stop) to the user with
// its content, except its system/ subtree, which it then lays out
// (entrypoint.System): root's, the shield's, the vault's.
func prepareVolume(s settings, dir, stop string, uid, gid int, vault *entrypoint.Owner) error {
	if err := entrypoint.NoLinksBelow(dir, stop); err != nil {
		return err
	}
	changed, err := entrypoint.OwnDir(dir, stop, uid, gid, true, filepath.Join(dir, entrypoint.SystemDir))
	if err != nil {
		return fmt.Errorf("volume %s: %w", dir, err)
	}
	if changed {
		fmt.Printf("terok-entrypoint: %s now belongs to %s (but its %s/)\n", dir, s.user, entrypoint.SystemDir)
	}
	sys := entrypoint.System{Volume: dir, Vault: vault, Log: func(msg string) { fmt.Printf("terok-entrypoint: %s\n", msg) }}
	return sys.Prepare()
}

// vaultUser is the account of terok-vault; system/vault/ of each volume
// is made its own when the account exists.
const vaultUser = "terok-vault"

func vaultOwner() (*entrypoint.Owner, error) {
	u, err := user.Lookup(vaultUser)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", vaultUser, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if uid == 0 {
		return nil, fmt.Errorf("user %s has uid 0; the vault must run as an account of its own", vaultUser)
	}
	return &entrypoint.Owner{UID: uid, GID: gid}, nil
}

// usernsWarning asks podman-service, as the user of rootless Podman,
// whether that user can create user namespaces (docker run without
// --privileged cannot) and returns the warning to print, "" when it can
// (or podman-service is not there to ask). podman-service says it again
// in its log and health.
func usernsWarning(bin string, uid, gid int) string {
	if _, err := os.Stat(bin); err != nil {
		return ""
	}
	cmd := exec.Command(bin, "check", "--only", "userns", "--json")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	cmd.Dir = "/"
	out, err := cmd.Output()
	if err == nil {
		return ""
	}
	var c struct{ Detail, Fix string }
	if json.Unmarshal(out, &c) != nil || c.Detail == "" {
		return ""
	}
	return fmt.Sprintf("terok-entrypoint: WARNING: %s\nterok-entrypoint: WARNING: no task can start; fix: %s\n\n", c.Detail, c.Fix)
}
