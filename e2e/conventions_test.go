package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/serviceapi"
)

// The command-line conventions of docs/conventions.md, held for every
// binary: help exits 0; an unknown command exits 2, names itself and lists
// the commands; an unexpected argument exits 2 and names it; a flag written
// after the command and its arguments is taken; a daemon that does not run
// is exit 3 with its socket named. supervisorctl keeps the words and exit
// statuses of Python's supervisorctl (the one documented exception) and
// its row says what those are.

// convBinary is one binary and the command lines that exercise it.
type convBinary struct {
	name, pkg string
	// commands are names the unknown-command error must list (none for a
	// program without commands).
	commands []string
	// unknown is the exit status and text of an unknown command.
	unknownCode int
	unknownText string
	// extra is a command line with one argument too many.
	extra []string
	// flagAfter is a command line with a flag after the command (and its
	// arguments), and what proves the flag was taken: its exit status and
	// a text of its output. Empty for a program that has none.
	flagAfter     []string
	flagAfterCode int
	flagAfterText string
	// down calls the daemon with TEROK_RUN_DIR pointing where nothing
	// runs; it must exit downCode naming <run dir>/<socket>.sock.
	down     []string
	downCode int
	socket   string
}

// elsewhere is a socket path in no run directory: a flag naming it is seen
// in the error only when the flag was taken.
const elsewhere = "/nonexistent/tkconv-elsewhere.sock"

var convBinaries = []convBinary{
	{name: "terok-supervisord", pkg: "../supervisor/cmd/terok-supervisord",
		unknownCode: 2, unknownText: `unexpected argument "bogus"`,
		extra:     []string{"--check", "-c", "/dev/null", "extra"},
		flagAfter: []string{"-c", "/nonexistent/tkconv.conf", "--check"}, flagAfterCode: 2, flagAfterText: "/nonexistent/tkconv.conf"},
	{name: "supervisorctl", pkg: "../supervisor/cmd/supervisorctl",
		// Python's words and statuses: "*** Unknown syntax", 1; an
		// unknown option 2; a server that does not answer 4 for status.
		unknownCode: 1, unknownText: "*** Unknown syntax: bogus",
		extra:     []string{"-x"},
		flagAfter: nil, // options come before the action, as in Python's
		down:      []string{"status"}, downCode: 4, socket: "supervisor"},
	{name: "terok-gate", pkg: "../daemons/gate/cmd/terok-gate",
		commands: []string{"serve", "repo", "token"}, unknownCode: 2, unknownText: `unknown command "bogus"`,
		extra:     []string{"repo", "list", "extra"},
		flagAfter: []string{"repo", "list", "--socket", elsewhere}, flagAfterCode: 3, flagAfterText: elsewhere,
		down: []string{"repo", "list"}, downCode: 3, socket: "gate"},
	{name: "terok-shield", pkg: "../daemons/shield/cmd/terok-shield",
		commands: []string{"serve", "status", "allow", "deny"}, unknownCode: 2, unknownText: `unknown command "bogus"`,
		extra:     []string{"status", "abc", "extra"},
		flagAfter: []string{"status", "abc", "--socket", elsewhere}, flagAfterCode: 3, flagAfterText: elsewhere,
		down: []string{"status"}, downCode: 3, socket: "shield"},
	{name: "podman-service", pkg: "../daemons/podman-service/cmd/podman-service",
		commands: []string{"serve", "check", "status", "import-image"}, unknownCode: 2, unknownText: `unknown command "bogus"`,
		extra:     []string{"status", "extra"},
		flagAfter: []string{"status", "--socket", elsewhere}, flagAfterCode: 3, flagAfterText: elsewhere,
		down: []string{"status"}, downCode: 3, socket: "podman-service"},
	{name: "terok-vault", pkg: "../daemons/vault/cmd/terok-vault",
		commands: []string{"serve", "secret", "providers", "phantom", "audit"}, unknownCode: 2, unknownText: `unknown command "bogus"`,
		extra:     []string{"secret", "list", "extra"},
		flagAfter: []string{"secret", "list", "--socket", elsewhere}, flagAfterCode: 3, flagAfterText: elsewhere,
		down: []string{"secret", "list"}, downCode: 3, socket: "vault"},
	{name: "terok-web", pkg: "../daemons/web/cmd/terok-web",
		commands: []string{"serve"}, unknownCode: 2, unknownText: `unknown command "bogus"`,
		extra: []string{"serve", "extra"},
		// A socket below a file cannot be made: the error names the path
		// the flag gave, exit 1 (not 2: the flag was understood).
		flagAfter: []string{"serve", "--socket", "/dev/null/tkconv-web.sock", "--entry", "/bin/true"}, flagAfterCode: 1, flagAfterText: "/dev/null"},
	{name: "terok", pkg: "../daemons/web/cmd/terok",
		commands: []string{"health"}, unknownCode: 2, unknownText: `unknown command "bogus"`,
		extra: []string{"health", "extra"},
		down:  []string{"health"}, downCode: 3, socket: "web"},
}

// TestMain removes the binaries testkit.Build compiled for these tests.
func TestMain(m *testing.M) { testkit.Main(m) }

func TestConventions(t *testing.T) {
	runDir := t.TempDir() // nothing answers here
	env := append(withoutTerok(os.Environ()), "TEROK_RUN_DIR="+runDir)
	// Every command line here must end by itself: one that starts a
	// daemon instead of refusing its arguments is killed after a bound
	// and reported.
	run := func(t *testing.T, bin string, args ...string) (string, string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = env
		cmd.Dir = t.TempDir() // no config file of anybody's in the working directory
		cmd.WaitDelay = 5 * time.Second
		stdout, stderr, code := testkit.Run(cmd)
		if ctx.Err() != nil {
			t.Fatalf("%s %v ran for 30 s instead of ending (it took the arguments for a command to run):\n%s%s", filepath.Base(bin), args, stdout, stderr)
		}
		return stdout, stderr, code
	}
	for _, b := range convBinaries {
		t.Run(b.name, func(t *testing.T) {
			bin := testkit.Build(t, b.pkg)
			t.Run("help", func(t *testing.T) {
				stdout, stderr, code := run(t, bin, "--help")
				if code != 0 || !strings.Contains(strings.ToLower(stdout), "usage") {
					t.Fatalf("--help: exit %d, stdout %q, stderr %q; want 0 and the usage", code, stdout, stderr)
				}
			})
			t.Run("unknown command", func(t *testing.T) {
				stdout, stderr, code := run(t, bin, "bogus")
				all := stdout + stderr
				if code != b.unknownCode || !strings.Contains(all, b.unknownText) {
					t.Fatalf("bogus: exit %d, %q; want %d and %q", code, all, b.unknownCode, b.unknownText)
				}
				for _, c := range b.commands {
					if !strings.Contains(stderr, c) {
						t.Errorf("the unknown-command error does not list %q: %q", c, stderr)
					}
				}
			})
			t.Run("unexpected argument", func(t *testing.T) {
				stdout, stderr, code := run(t, bin, b.extra...)
				last := b.extra[len(b.extra)-1]
				if code != 2 || !strings.Contains(stdout+stderr, last) {
					t.Fatalf("%v: exit %d, %q; want 2 naming %q", b.extra, code, stdout+stderr, last)
				}
			})
			if b.flagAfter != nil {
				t.Run("flag after the command", func(t *testing.T) {
					stdout, stderr, code := run(t, bin, b.flagAfter...)
					if code != b.flagAfterCode || !strings.Contains(stdout+stderr, b.flagAfterText) {
						t.Fatalf("%v: exit %d, %q; want %d naming %q (the flag taken)", b.flagAfter, code, stdout+stderr, b.flagAfterCode, b.flagAfterText)
					}
				})
			}
			if b.down != nil {
				t.Run("daemon not running", func(t *testing.T) {
					stdout, stderr, code := run(t, bin, b.down...)
					sock := filepath.Join(runDir, b.socket+".sock")
					if code != b.downCode || !strings.Contains(stdout+stderr, sock) {
						t.Fatalf("%v: exit %d, %q; want %d naming %s", b.down, code, stdout+stderr, b.downCode, sock)
					}
				})
			}
		})
	}
}

// TestConventionsMakeRunChecksConfigFirst: make run with an override that
// names an unknown user reports the file and line of that override and
// starts nothing: no banner, no socket.
func TestConventionsMakeRunChecksConfigFirst(t *testing.T) {
	root := repoRoot(t)
	for _, b := range []string{"terok-supervisord", "supervisorctl", "terok-gate", "terok-shield", "podman-service", "terok-vault", "terok-web"} {
		_, err := os.Stat(filepath.Join(root, "bin", b))
		testkit.Require(t, err == nil, "bin/"+b+" is not built; run make build first")
	}
	env := withoutTerok(os.Environ())
	if os.Geteuid() == 0 {
		_, err := exec.Command("id", e2eUser).Output()
		testkit.Require(t, err == nil, "user "+e2eUser+" is missing; run make deps (scripts/setup.d/60-e2e.sh)")
		env = append(env, "TEROK_USER="+e2eUser)
	}
	dev, err := os.MkdirTemp("", "tkconv-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dev, 0o755)
	t.Cleanup(func() { os.RemoveAll(dev) })
	os.MkdirAll(filepath.Join(dev, "supervisor.d"), 0o755)
	bad := filepath.Join(dev, "supervisor.d", "95-bad.conf")
	os.WriteFile(bad, []byte("; a typo in an override\n[program:terok-web]\nuser = tkconv-no-such-user\n"), 0o644)
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "run.sh"))
	cmd.Env = append(env, "TEROK_DEV_DIR="+dev)
	stdout, stderr, code := testkit.Run(cmd)
	all := stdout + stderr
	if code == 0 || !strings.Contains(all, bad+":3: [program:terok-web] user=tkconv-no-such-user") {
		t.Fatalf("make run with a bad override: exit %d; want a failure naming %s:3\n%s", code, bad, all)
	}
	if strings.Contains(all, "Ctrl-C stops the tree") || strings.Contains(all, "export TEROK_RUN_DIR") {
		t.Fatalf("the banner was printed for a tree that cannot start:\n%s", all)
	}
	if _, err := os.Stat(filepath.Join(dev, "run", "supervisor.sock")); !os.IsNotExist(err) {
		t.Fatalf("the supervisor started: %v", err)
	}
}

// TestConventionsMakeRunWithoutSession runs make run as a plain user with
// no login session (no XDG_RUNTIME_DIR, no /run/user/<uid>): podman-service
// must come up anyway, the one export line printed must reach the tree
// with supervisorctl alone, and once the tree stops make run must say what
// it did with rootless Podman's pause process.
func TestConventionsMakeRunWithoutSession(t *testing.T) {
	testkit.RequireRoot(t)
	testkit.RequireCommand(t, "podman")
	const user = "tkpodman" // podman-service's test user (scripts/setup.d/20-podman.sh)
	uidOut, err := exec.Command("id", "-u", user).Output()
	testkit.Require(t, err == nil, "user "+user+" is missing; run make deps (scripts/setup.d/20-podman.sh)")
	uid := strings.TrimSpace(string(uidOut))
	// Without XDG_RUNTIME_DIR make run takes Podman's own choice:
	// /run/user/<uid> when the user has one (not the case for tkpodman,
	// which never logs in), else /tmp/podman-run-<uid>.
	xdg := "/tmp/podman-run-" + uid
	if fi, err := os.Stat("/run/user/" + uid); err == nil && fi.IsDir() {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && strconv.Itoa(int(st.Uid)) == uid {
			xdg = "/run/user/" + uid
		}
	}
	root := repoRoot(t)
	for _, b := range []string{"terok-supervisord", "supervisorctl", "terok-gate", "terok-shield", "podman-service", "terok-vault", "terok-web"} {
		_, err := os.Stat(filepath.Join(root, "bin", b))
		testkit.Require(t, err == nil, "bin/"+b+" is not built; run make build first")
	}
	err = exec.Command("runuser", "-u", user, "--", "test", "-x", filepath.Join(root, "bin", "terok-supervisord")).Run()
	testkit.Require(t, err == nil, user+" cannot execute "+root+"/bin; the checkout must be readable by it")
	// A home and dev dir of its own, so that no Podman storage is shared
	// with another test.
	dir, err := os.MkdirTemp("", "tkconv-nosession-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	home, dev := filepath.Join(dir, "home"), filepath.Join(dir, "dev")
	for _, d := range []string{home, dev} {
		if out, err := exec.Command("install", "-d", "-o", user, "-g", user, d).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	os.Chmod(dir, 0o755)
	gate := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	cmd := exec.Command("runuser", "-u", user, "--", "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME="+home,
		"TEROK_DEV_DIR="+dev, "TEROK_GATE_LISTEN="+gate, fmt.Sprintf("TEROK_VAULT_LISTEN=127.0.0.1:%d", testkit.FreePort(t)),
		"bash", filepath.Join(root, "scripts", "run.sh"))
	var out testkit.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	// The banner's export line, once the supervisor answers.
	var runDir string
	deadline := time.Now().Add(60 * time.Second)
	for runDir == "" {
		for _, l := range strings.Split(out.String(), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "export TEROK_RUN_DIR="); ok {
				runDir = v
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("make run ended (%v) before printing its banner:\n%s", err, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if runDir == "" && time.Now().After(deadline) {
			t.Fatalf("no export TEROK_RUN_DIR line within 60 s:\n%s", out.String())
		}
	}
	if !strings.Contains(out.String(), "XDG_RUNTIME_DIR was unset; podman-service uses "+xdg) {
		t.Errorf("the banner does not say which runtime directory Podman gets:\n%s", out.String())
	}
	// supervisorctl with nothing but that line: podman-service RUNNING.
	ctl := filepath.Join(root, "bin", "supervisorctl")
	var status string
	deadline = time.Now().Add(90 * time.Second)
	for {
		c := exec.Command(ctl, "status", "podman-service")
		c.Env = append(withoutTerok(os.Environ()), "TEROK_RUN_DIR="+runDir)
		c.Dir = dir
		status, _, _ = testkit.Run(c)
		if f := strings.Fields(status); len(f) > 1 && f[0] == "podman-service" && f[1] == "RUNNING" {
			break
		}
		if f := strings.Fields(status); len(f) > 1 && f[1] == "FATAL" || time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dev, "log", "podman-service.log"))
			t.Fatalf("podman-service is not RUNNING: %q\n%s", status, log)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// ... and really serving: its health says Podman's API answers.
	svc := serviceapi.New(filepath.Join(runDir, "podman-service.sock"))
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		h, err := svc.Health(ctx)
		cancel()
		if err == nil && h.Details["api_answers"] == true {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dev, "log", "podman-service.log"))
			t.Fatalf("podman-service not healthy within 90 s: %+v %v\n%s", h, err, log)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The vault runs as the plain user too (no user of its own to drop
	// to), with its directories the user's.
	for {
		c := exec.Command(filepath.Join(root, "bin", "terok-vault"), "secret", "list")
		c.Env = append(withoutTerok(os.Environ()), "TEROK_RUN_DIR="+runDir)
		c.Dir = dir
		o, e, code := testkit.Run(c)
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dev, "log", "terok-vault.log"))
			t.Fatalf("terok-vault does not answer as the plain user: %s%s\n%s", o, e, log)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if o, err := exec.Command("stat", "-c", "%U %a", filepath.Join(dev, "state", "system", "vault")).Output(); err != nil || strings.TrimSpace(string(o)) != user+" 700" {
		t.Errorf("the vault's state directory natively as %s: %q %v", user, o, err)
	}
	// Ctrl-C stops the tree; make run exits 0 and accounts for the pause
	// process (stopped, or left because other Podman processes of the
	// user, e.g. a test running beside this one, still use it).
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Fatalf("make run ended with %v after Ctrl-C:\n%s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("make run did not end within 60 s of Ctrl-C:\n%s", out.String())
	}
	// Nothing else uses this runtime directory (this test's own), so the
	// pause process is stopped.
	if !strings.Contains(out.String(), "make run-native: stopped rootless Podman's pause process of "+user) {
		t.Fatalf("make run did not stop the pause process it left:\n%s", out.String())
	}
	if b, err := os.ReadFile(xdg + "/libpod/tmp/pause.pid"); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			gone := false
			for i := 0; i < 100 && !gone; i++ { // bounded: 10 s
				gone = syscall.Kill(pid, 0) != nil
				time.Sleep(100 * time.Millisecond)
			}
			if !gone {
				t.Fatalf("the pause process %d still runs", pid)
			}
		}
	}
}
