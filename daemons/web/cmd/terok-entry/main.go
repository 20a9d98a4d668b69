// Command terok-entry is the first process of every task container. terok
// bind-mounts it read-only, so any image with sh and git works.
//
// It first writes the agent's settings terok-web passes in
// $TEROK_AGENT_SETTINGS into the task user's home (an agent whose recipe
// keeps its base URL in a config file, e.g. Codex's openai_base_url in
// ~/.codex/config.toml, is pointed at the vault's broker there); when one
// cannot be written the task ends at once (exit 125), before any agent
// runs.
//
// It clones the project from the gate into /workspace ($TEROK_GATE_URL, a
// clone URL carrying the task's token), or fetches when the workspace holds
// a clone already (a follow-up run), sets a git identity and the push URL,
// checks out the task's own branch agent/<task id> (made from the default
// branch on the first run, kept in a follow-up; a plain `git push` lands
// there), then runs `sh -c "$TEROK_AGENT_COMMAND"` in /workspace with the prompt
// ($TEROK_PROMPT) on stdin, and exits with the command's exit code.
// Its own lines go to stderr prefixed "terok-entry:"; the token never
// appears in them.
package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/agentsettings"
)

// workspace is where the project is cloned (a variable for tests).
var workspace = "/workspace"

func main() {
	os.Exit(run())
}

func say(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "terok-entry: "+format+"\n", a...)
}

// redact hides the user part (the token) of a URL.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return strings.Replace(u.String(), "://", "://***@", 1)
}

func git(args ...string) error {
	cmd := exec.Command("git", args...)
	cmd.Dir = workspace
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("git %s: %w", args[0], err)
	}
	return nil
}

func run() int {
	gateURL := os.Getenv("TEROK_GATE_URL")
	command := os.Getenv("TEROK_AGENT_COMMAND")
	if os.Getenv("HOME") == "" {
		os.Setenv("HOME", "/root")
	}
	os.Setenv("GIT_TERMINAL_PROMPT", "0")
	// Before anything else, in both modes: an agent pointed at the wrong
	// address would send its phantom to the provider.
	if err := applySettings(); err != nil {
		say("%v (the agent is not started: it would not reach terok's credential broker)", err)
		return 125
	}
	if err := os.MkdirAll(workspace, 0o755); err != nil {
		say("create %s: %v", workspace, err)
		return 125
	}
	if gateURL != "" {
		t0 := time.Now()
		if err := prepare(gateURL); err != nil {
			say("%v", err)
			return 125
		}
		say("workspace ready in %d ms", time.Since(t0).Milliseconds())
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	if os.Getenv("TEROK_MODE") == "interactive" {
		// A long-lived container: terok task attach opens terminals in it.
		say("workspace ready; waiting for terok task attach (terok task stop ends the task)")
		<-sigs
		return 0
	}
	if command == "" {
		say("no agent command (set agent.command in the project or pass --cmd)")
		return 125
	}
	say("running the agent command in %s", workspace)
	cmd := exec.Command("sh", "-c", command)
	cmd.Dir = workspace
	cmd.Stdin = strings.NewReader(os.Getenv("TEROK_PROMPT"))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	// PID 1 gets no default signal handling: pass a stop on to the agent.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		say("run sh -c: %v (the image needs sh)", err)
		return 127
	}
	go func() {
		for s := range sigs {
			_ = syscall.Kill(-cmd.Process.Pid, s.(syscall.Signal))
		}
	}()
	err := cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ee.ExitCode() < 0 {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return 128 + int(ws.Signal())
			}
			return 128 + 9
		}
		return ee.ExitCode()
	}
	if err != nil {
		say("run sh -c: %v (the image needs sh)", err)
		return 127
	}
	return 0
}

// applySettings writes the agent's settings terok-web passes in
// $TEROK_AGENT_SETTINGS (its base URL, when its recipe keeps it in a
// config file) into the task user's home, naming each file and key
// (never the value).
func applySettings() error {
	list, err := agentsettings.Decode(os.Getenv(agentsettings.Env))
	if err != nil {
		return err
	}
	for _, s := range list {
		if err := agentsettings.Apply(os.Getenv("HOME"), s); err != nil {
			return err
		}
		say("set %s in %s", s.Key, s.File)
	}
	return nil
}

// prepare clones or fetches the project and configures identity and push.
func prepare(gateURL string) error {
	if _, err := os.Stat(workspace + "/.git"); err == nil {
		say("fetching %s into %s", redact(gateURL), workspace)
		if err := git("remote", "set-url", "origin", gateURL); err != nil {
			return err
		}
		if err := git("fetch", "-q", "origin"); err != nil {
			return err
		}
	} else {
		say("cloning %s into %s", redact(gateURL), workspace)
		if _, err := exec.LookPath("git"); err != nil {
			return fmt.Errorf("git is not in the image: use an image with git (make task-image builds localhost/terok-base:latest)")
		}
		if err := git("clone", "-q", gateURL, "."); err != nil {
			return err
		}
	}
	name := envOr("TEROK_GIT_NAME", "terok agent")
	email := envOr("TEROK_GIT_EMAIL", "agent-"+os.Getenv("TEROK_TASK_ID")+"@terok.invalid")
	for _, kv := range [][2]string{{"user.name", name}, {"user.email", email}, {"remote.origin.pushurl", gateURL}, {"push.default", "current"}} {
		if err := git("config", kv[0], kv[1]); err != nil {
			return err
		}
	}
	if id := os.Getenv("TEROK_TASK_ID"); id != "" {
		return taskBranch("agent/" + id)
	}
	return nil
}

// taskBranch checks out the task's own branch: the gate lets a task push
// only branches it created, never the default branch. It is reused when
// it exists (here, or in the gate from an earlier run), else made from
// what the clone checked out (the default branch, or nothing yet in an
// empty repository). With push.default=current (and origin the default
// remote), `git push` and `git push origin HEAD` both land on it; a branch
// taken from the gate tracks it, so `git pull` works in a follow-up.
func taskBranch(branch string) error {
	cur, _ := gitOut("symbolic-ref", "-q", "--short", "HEAD")
	_, localErr := gitOut("rev-parse", "-q", "--verify", "refs/heads/"+branch)
	_, remoteErr := gitOut("rev-parse", "-q", "--verify", "refs/remotes/origin/"+branch)
	switch {
	case cur == branch:
	case localErr == nil:
		if err := git("checkout", "-q", branch); err != nil {
			return fmt.Errorf("%w: the workspace could not switch to the task's branch %s; commit or stash the changes in /workspace", err, branch)
		}
	case remoteErr == nil:
		if err := git("checkout", "-q", "-b", branch, "origin/"+branch); err != nil {
			return err
		}
	default:
		if _, err := gitOut("rev-parse", "-q", "--verify", "HEAD"); err != nil {
			// An empty repository: the first commit starts the branch.
			if err := git("symbolic-ref", "HEAD", "refs/heads/"+branch); err != nil {
				return err
			}
			break
		}
		if err := git("checkout", "-q", "-b", branch); err != nil {
			return err
		}
	}
	say("on branch %s (git push sends it to the gate)", branch)
	return nil
}

// gitOut runs git in the workspace and returns its trimmed stdout.
func gitOut(args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = workspace
	cmd.Stderr = nil
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
