package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
	"github.com/terok-ai/terok-in-docker/e2e/e2ekit"
)

// taskRootfs is the cached root filesystem of the default task image
// (scripts/task-rootfs.sh, run by make deps).
const taskRootfs = "/var/cache/terok/taskfs-trixie"

// terok runs the CLI against the tree.
func (tr *tree) terok(t *testing.T, args ...string) (string, int) {
	t.Helper()
	return tr.bin(t, "terok", args...)
}

// mustTerok runs the CLI and requires exit 0.
func (tr *tree) mustTerok(t *testing.T, args ...string) string {
	t.Helper()
	out, code := tr.terok(t, args...)
	if code != 0 {
		t.Fatalf("terok %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func (tr *tree) taskJSON(t *testing.T, id string) webapi.Task {
	t.Helper()
	var task webapi.Task
	out := tr.mustTerok(t, "task", "show", id, "--json")
	if err := json.Unmarshal([]byte(out), &task); err != nil {
		t.Fatalf("task show --json: %v\n%s", err, out)
	}
	return task
}

func (tr *tree) web() *webapi.Client { return webapi.New(filepath.Join(tr.run, "web.sock")) }

// events follows terok-web's events (with the log lines of logs) from
// the server's acknowledgement on: next returns each event after it.
func (tr *tree) events(t *testing.T, ctx context.Context, logs ...string) (next func() (webapi.Event, error), stop func()) {
	t.Helper()
	pull, stop := iter.Pull2(tr.web().Events(ctx, logs...))
	next = func() (webapi.Event, error) {
		ev, err, ok := pull()
		if !ok && err == nil {
			err = ctx.Err()
		}
		return ev, err
	}
	if ev, err := next(); err != nil || ev.Type != webapi.EventSubscribed {
		stop()
		t.Fatalf("events: %+v %v, want the acknowledgement first", ev, err)
	}
	return next, stop
}

// upstream makes a bare repository with one commit on main that the e2e
// user (the gate) can read and write.
func upstream(t *testing.T, tr *tree) string {
	t.Helper()
	dir := filepath.Join(tr.dev, "upstream.git")
	work := filepath.Join(tr.dev, "upstream-work")
	e2ekit.Git(t, tr.dev, "init", "-q", "--bare", "-b", "main", dir)
	e2ekit.Git(t, tr.dev, "init", "-q", "-b", "main", work)
	os.WriteFile(filepath.Join(work, "README.md"), []byte("demo project\n"), 0o644)
	e2ekit.Git(t, work, "add", "README.md")
	e2ekit.Git(t, work, "commit", "-qm", "initial")
	e2ekit.Git(t, work, "push", "-q", dir, "main")
	if out, err := exec.Command("chown", "-R", e2eUser, dir).CombinedOutput(); err != nil {
		t.Fatalf("chown upstream: %v %s", err, out)
	}
	return dir
}

// importTaskImage imports the cached task rootfs through the CLI.
func importTaskImage(t *testing.T, tr *tree) {
	t.Helper()
	// The trees of parallel tests share the e2e user's Podman storage; a
	// user's one tree never imports twice at once. On a new machine, with
	// that storage still empty, imports of parallel trees at the same
	// moment have failed with Podman closing the connection: one at a time.
	importMu.Lock()
	defer importMu.Unlock()
	_, err := os.Stat(filepath.Join(taskRootfs, ".terok-rootfs-complete"))
	testkit.Require(t, err == nil, taskRootfs+" is missing: run make deps (scripts/task-rootfs.sh)")
	cmd := exec.Command("bash", "-c", "tar -C "+taskRootfs+" --numeric-owner --exclude=./.terok-rootfs-complete -c . | "+
		filepath.Join(tr.root, "bin", "terok")+" image import localhost/terok-base:latest -")
	cmd.Env = tr.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("import the task image: %v\n%s", err, out)
	}
	out := tr.mustTerok(t, "image", "list")
	if !strings.Contains(out, "localhost/terok-base:latest") {
		t.Fatalf("image list lacks the task image:\n%s", out)
	}
}

// importMu keeps importTaskImage to one import at a time.
var importMu sync.Mutex

// waitFor polls cond (bounded) until it holds.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s", what, limit)
}

// liveTokens lists the gate's tokens of a task.
func liveTokens(t *testing.T, tr *tree, project, task string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	toks, err := gateapi.New(filepath.Join(tr.run, "gate.sock")).Tokens(ctx, project)
	if err != nil {
		t.Fatalf("list gate tokens: %v", err)
	}
	n := 0
	for _, tok := range toks {
		if tok.Task == task {
			n++
		}
	}
	return n
}

// agentPush is an agent that commits and runs a plain git push: terok-entry
// has put it on its own branch agent/<task id>, and the push lands there.
const agentPush = `set -e
test "$(git symbolic-ref --short HEAD)" = "agent/$TEROK_TASK_ID"
printf '%s\n' "$TEROK_PROMPT" > PROMPT.txt
cat > STDIN.txt
git add PROMPT.txt STDIN.txt
git commit -qm "agent: $TEROK_PROMPT"
git push -q
echo pushed-ok`

// agentFollowUp runs in a follow-up of agentPush's task (a new token for
// the same task): it tries to move main (the gate refuses) and pushes
// more work to its branch with git push origin HEAD.
const agentFollowUp = `set -e
test "$(cat PROMPT.txt)" = "add a prompt file"
echo "workspace kept: $TEROK_PROMPT"
test "$(git symbolic-ref --short HEAD)" = "agent/$TEROK_TASK_ID"
if git push -q origin HEAD:main 2>main.err; then echo main-pushed; else grep -q "remote: terok-gate: cannot update main: it is the default branch" main.err && echo main-refused; fi
echo again >> PROMPT.txt
git commit -qam "agent: follow-up"
git push -q origin HEAD
echo followup-pushed`

func TestTasks(t *testing.T) {
	tr := startTree(t)
	tr.waitRunning(t)
	// The e2e user's Podman outlives the tree: remove every task (its
	// container and volume) before the tree stops.
	t.Cleanup(func() {
		out, code := tr.terok(t, "task", "list", "--json")
		var ts []webapi.Task
		if code != 0 || json.Unmarshal([]byte(out), &ts) != nil {
			t.Logf("cleanup: task list: %d %s", code, out)
			return
		}
		for _, x := range ts {
			if out, code := tr.terok(t, "task", "rm", "--force", x.ID); code != 0 {
				t.Errorf("cleanup: task rm %s: %d %s", x.ID, code, out)
			}
		}
	})
	importTaskImage(t, tr)
	up := upstream(t, tr)

	// Bad input first: every one names the thing and the fix.
	t.Run("bad input", func(t *testing.T) {
		out, code := tr.terok(t, "task", "run", "nosuch")
		if code != 4 || !strings.Contains(out, "terok project add nosuch") {
			t.Fatalf("unknown project: exit %d, want 4 and the fix:\n%s", code, out)
		}
		out, code = tr.terok(t, "project", "add", "Bad Name")
		if code == 0 || !strings.Contains(out, "lower-case") {
			t.Fatalf("bad project name: exit %d\n%s", code, out)
		}
		out, code = tr.terok(t, "task", "show", "NOT-AN-ID")
		if code == 0 || !strings.Contains(out, "6 characters of a-z and 2-9") {
			t.Fatalf("bad task id: exit %d\n%s", code, out)
		}
		tr.mustTerok(t, "project", "add", "noimage", "--image", "localhost/tke2e-nosuch:latest", "--cmd", "true")
		out, code = tr.terok(t, "task", "run", "noimage")
		if code == 0 || !strings.Contains(out, "terok image import localhost/tke2e-nosuch:latest") {
			t.Fatalf("missing image: exit %d, want the command that provides it:\n%s", code, out)
		}
		// A typo in a project file is reported with file, field and fix;
		// an unknown key is warned about and kept.
		file := filepath.Join(tr.dev, "config", "projects", "noimage", "project.yml")
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("the project file terok wrote: %v", err)
		}
		if err := os.WriteFile(file, append(b, []byte("secutiry_class: online\n")...), 0o644); err != nil {
			t.Fatal(err)
		}
		out = tr.mustTerok(t, "project", "show", "noimage")
		if !strings.Contains(out, "unknown key secutiry_class") || !strings.Contains(out, file) {
			t.Fatalf("unknown key not reported with its file:\n%s", out)
		}
		tr.mustTerok(t, "project", "edit", "noimage", "--cmd", "false")
		if b, err := os.ReadFile(file); err != nil || !strings.Contains(string(b), "secutiry_class") {
			t.Fatalf("edit dropped the unknown key:\n%s", b)
		}
		if err := os.WriteFile(file, []byte("name: noimage\nsecurity_class: paranoid\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, code = tr.terok(t, "task", "run", "noimage")
		if code == 0 || !strings.Contains(out, file) || !strings.Contains(out, "security_class") || !strings.Contains(out, "gatekeeping or online") {
			t.Fatalf("invalid class: exit %d\n%s", code, out)
		}
		tr.mustTerok(t, "project", "rm", "noimage")
		// An upstream the gate cannot reach: the run fails with the gate's
		// reason and the task is recorded as failed.
		tr.mustTerok(t, "project", "add", "lost", "--upstream", filepath.Join(tr.dev, "no-such-upstream.git"), "--cmd", "true")
		out, code = tr.terok(t, "task", "run", "lost")
		if code == 0 || !strings.Contains(out, "terok-gate") || !strings.Contains(out, "no-such-upstream.git") {
			t.Fatalf("unreachable upstream: exit %d\n%s", code, out)
		}
		lost := tr.mustTerok(t, "task", "list", "lost")
		if !strings.Contains(lost, "failed") {
			t.Fatalf("the task of an unreachable upstream is not recorded as failed:\n%s", lost)
		}
	})

	tr.mustTerok(t, "project", "add", "demo", "--upstream", up, "--cmd", agentPush)
	if out := tr.mustTerok(t, "project", "list"); !strings.Contains(out, "demo") {
		t.Fatalf("project list lacks demo:\n%s", out)
	}

	// Events: watch the socket's WebSocket while the first task runs.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	nextEvent, stopEvents := tr.events(t, ctx)
	defer stopEvents()

	var id string
	t.Run("headless push", func(t *testing.T) {
		id = strings.TrimSpace(tr.mustTerok(t, "task", "run", "demo", "--prompt", "add a prompt file"))
		if out, code := tr.terok(t, "task", "wait", id); code != 0 {
			logs, _ := tr.terok(t, "task", "logs", id)
			t.Fatalf("task wait %s: exit %d\n%s\n--- logs ---\n%s", id, code, out, logs)
		}
		task := tr.taskJSON(t, id)
		if task.State != webapi.StateExited || task.ExitCode == nil || *task.ExitCode != 0 || task.Project != "demo" || task.Mode != "headless" {
			t.Fatalf("task after the run: %+v", task)
		}
		logs := tr.mustTerok(t, "task", "logs", id)
		if !strings.Contains(logs, "pushed-ok") || !strings.Contains(logs, "terok-entry: cloning") {
			t.Fatalf("logs lack the agent's output:\n%s", logs)
		}
		if strings.Contains(logs, "terok-g-") {
			t.Fatalf("the task token shows in the log:\n%s", logs)
		}
		if tail := tr.mustTerok(t, "task", "logs", id, "--tail", "1"); strings.TrimSpace(tail) != "pushed-ok" {
			t.Fatalf("logs --tail 1 = %q, want pushed-ok", tail)
		}
		// The branch is in the gate, with the prompt (stdin too) committed.
		out := tr.mustTerok(t, "gate", "branches", "demo")
		if !strings.Contains(out, "agent/"+id) {
			t.Fatalf("gate branches lack agent/%s:\n%s", id, out)
		}
		clone := filepath.Join(t.TempDir(), "c")
		e2ekit.Git(t, tr.dev, "clone", "-q", "-b", "agent/"+id, fmt.Sprintf("http://%s@%s/demo.git", tr.adminToken, tr.gateAddr), clone)
		for _, f := range []string{"PROMPT.txt", "STDIN.txt"} {
			if b, err := os.ReadFile(filepath.Join(clone, f)); err != nil || strings.TrimSpace(string(b)) != "add a prompt file" {
				t.Fatalf("%s in the pushed branch = %q, %v", f, b, err)
			}
		}
		if n := liveTokens(t, tr, "demo", id); n != 0 {
			t.Fatalf("%d gate token(s) of the ended task are still alive", n)
		}
		t.Logf("task log:\n%s", logs)
		t.Logf("timeline:\n%s", tr.mustTerok(t, "task", "timeline", id))
		tl := tr.mustTerok(t, "task", "timeline", id, "--json")
		var es []webapi.Entry
		json.Unmarshal([]byte(tl), &es)
		var states []string
		for _, e := range es {
			if e.Kind == webapi.EntryState {
				states = append(states, e.State)
			}
		}
		// The push the gate received from the task's token is in its
		// timeline (it may arrive just after the exit).
		waitFor(t, "the push in the timeline", 30*time.Second, func() bool {
			out, _ := tr.terok(t, "task", "timeline", id, "--json")
			var es []webapi.Entry
			json.Unmarshal([]byte(out), &es)
			for _, e := range es {
				if e.Kind == webapi.EntryPush && e.Ref == "agent/"+id && e.Old == "" && len(e.New) == 40 && e.Commits == 1 {
					return true
				}
			}
			return false
		})
		if task := tr.taskJSON(t, id); strings.Join(task.Branches, ",") != "agent/"+id {
			t.Fatalf("the task's branches: %v", task.Branches)
		}
		diff := tr.mustTerok(t, "gate", "diff", "demo", "agent/"+id)
		if !strings.Contains(diff, "1 commit(s), 2 file(s)") || !strings.Contains(diff, "+add a prompt file") || !strings.Contains(diff, "PROMPT.txt") {
			t.Fatalf("gate diff:\n%s", diff)
		}
		if strings.Join(states, ",") != "created,starting,running,exited" {
			t.Fatalf("timeline states %v, want created,starting,running,exited:\n%s", states, tl)
		}
		// The WebSocket saw the task run and end.
		seen := map[string]bool{}
		for !seen[webapi.StateExited] {
			ev, err := nextEvent()
			if err != nil {
				t.Fatalf("events: %v (seen %v)", err, seen)
			}
			if ev.Type == webapi.EventTask && ev.TaskID == id && ev.Task != nil {
				seen[ev.Task.State] = true
			}
		}
		if !seen[webapi.StateRunning] {
			t.Fatalf("no running event before exited: %v", seen)
		}
	})

	// A shielded task's only nameserver is the shield's resolver in its
	// own namespace; the network's resolver would be an open channel out.
	t.Run("resolver", func(t *testing.T) {
		id := strings.TrimSpace(tr.mustTerok(t, "task", "run", "demo", "--cmd", "grep '^nameserver' /etc/resolv.conf"))
		if out, code := tr.terok(t, "task", "wait", id); code != 0 {
			t.Fatalf("task wait: exit %d\n%s", code, out)
		}
		var ns []string
		for _, l := range strings.Split(tr.mustTerok(t, "task", "logs", id), "\n") {
			if strings.HasPrefix(l, "nameserver") {
				ns = append(ns, strings.TrimSpace(l))
			}
		}
		if strings.Join(ns, ";") != "nameserver "+shieldapi.ResolverAddr {
			t.Fatalf("the task's nameservers are %q; want only %s", ns, shieldapi.ResolverAddr)
		}
	})

	t.Run("exit code", func(t *testing.T) {
		id := strings.TrimSpace(tr.mustTerok(t, "task", "run", "demo", "--cmd", "echo failing; exit 7"))
		if out, code := tr.terok(t, "task", "wait", id); code != 7 {
			t.Fatalf("task wait: exit %d, want the task's 7\n%s", code, out)
		}
		out := tr.mustTerok(t, "task", "list", "demo", "--json")
		var ts []webapi.Task
		json.Unmarshal([]byte(out), &ts)
		found := false
		for _, x := range ts {
			if x.ID == id {
				found = x.State == webapi.StateExited && x.ExitCode != nil && *x.ExitCode == 7
			}
		}
		if !found {
			t.Fatalf("task list --json does not show %s exited 7:\n%s", id, out)
		}
		tr.mustTerok(t, "task", "rm", id)
		if _, code := tr.terok(t, "task", "show", id); code != 4 {
			t.Fatalf("show after rm: exit %d, want 4", code)
		}
	})

	t.Run("followup", func(t *testing.T) {
		before := strings.Fields(e2ekit.Git(t, tr.dev, "ls-remote", fmt.Sprintf("http://%s@%s/demo.git", tr.adminToken, tr.gateAddr), "refs/heads/main", "refs/heads/agent/"+id))
		out := tr.mustTerok(t, "task", "followup", id, "--prompt", "again", "--cmd", agentFollowUp)
		if strings.TrimSpace(out) != id {
			t.Fatalf("followup printed %q, want the id", out)
		}
		if out, code := tr.terok(t, "task", "wait", id); code != 0 {
			logs, _ := tr.terok(t, "task", "logs", id)
			t.Fatalf("followup wait: %d %s\n%s", code, out, logs)
		}
		logs := tr.mustTerok(t, "task", "logs", id)
		if !strings.Contains(logs, "pushed-ok") || !strings.Contains(logs, "workspace kept: again") ||
			!strings.Contains(logs, "main-refused") || !strings.Contains(logs, "followup-pushed") {
			t.Fatalf("the log should hold both runs, main refused and the follow-up's push:\n%s", logs)
		}
		// main stayed; the task's branch moved by the follow-up's commit.
		after := strings.Fields(e2ekit.Git(t, tr.dev, "ls-remote", fmt.Sprintf("http://%s@%s/demo.git", tr.adminToken, tr.gateAddr), "refs/heads/main", "refs/heads/agent/"+id))
		if len(before) != 4 || len(after) != 4 || after[2] != before[2] || after[0] == before[0] {
			t.Fatalf("gate refs before the follow-up %v, after %v: want agent/%s moved and main kept", before, after, id)
		}
		if n := liveTokens(t, tr, "demo", id); n != 0 {
			t.Fatalf("followup left %d token(s) alive", n)
		}
	})

	t.Run("gate url and promote", func(t *testing.T) {
		u := strings.TrimSpace(tr.mustTerok(t, "gate", "url", "demo"))
		if u != "http://"+tr.gateAddr+"/demo.git" {
			t.Fatalf("gate url %q, want http://%s/demo.git", u, tr.gateAddr)
		}
		// Promote with a commit the branch no longer holds is refused and
		// names the head; with the head it goes.
		head := strings.Fields(e2ekit.Git(t, tr.dev, "ls-remote", fmt.Sprintf("http://%s@%s/demo.git", tr.adminToken, tr.gateAddr), "refs/heads/agent/"+id))[0]
		out, code := tr.terok(t, "gate", "promote", "demo", "agent/"+id, "--expect", "0000000")
		if code == 0 || !strings.Contains(out, "branch moved since it was reviewed: agent/"+id+" is now at "+head) {
			t.Fatalf("promote --expect stale: exit %d\n%s", code, out)
		}
		out = tr.mustTerok(t, "gate", "promote", "demo", "agent/"+id, "--expect", head)
		if !strings.Contains(out, "promoted agent/"+id) {
			t.Fatalf("promote: %s", out)
		}
		if got := e2ekit.Git(t, tr.dev, "--git-dir", up, "branch", "--list", "agent/"+id); !strings.Contains(got, "agent/"+id) {
			t.Fatalf("the upstream lacks the promoted branch")
		}
		if tl := tr.mustTerok(t, "task", "timeline", id); !strings.Contains(tl, "promoted agent/"+id) {
			t.Fatalf("the timeline lacks the promotion:\n%s", tl)
		}
	})

	t.Run("daemons and health", func(t *testing.T) {
		out := tr.mustTerok(t, "daemons", "status")
		// Each program's own row says RUNNING, not just any row.
		state := map[string]string{}
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) >= 2 {
				state[f[0]] = f[1]
			}
		}
		for _, p := range []string{"terok-gate", "terok-shield", "podman-service", "terok-vault", "terok-web"} {
			if state[p] != "RUNNING" {
				t.Fatalf("daemons status: %s is %q, want RUNNING:\n%s", p, state[p], out)
			}
		}
		// The whole log (the banner is at its start, and no line of it
		// may hold the admin token), not the default tail.
		if out := tr.mustTerok(t, "daemons", "logs", "terok-gate", "--bytes", "16777216"); !strings.Contains(out, "git smart HTTP") || strings.Contains(out, tr.adminToken) {
			t.Fatalf("daemons logs terok-gate (must not hold the admin token):\n%s", out)
		}
		tr.mustTerok(t, "health")
	})

	t.Run("shield refuses then allows live", func(t *testing.T) { testShieldLive(t, tr) })
	t.Run("tcp api needs the token", func(t *testing.T) { testTCPAuth(t, tr) })
	t.Run("stop and rm", func(t *testing.T) { testStopRemove(t, tr) })
	t.Run("kill -9 of terok-web", func(t *testing.T) { testReconcile(t, tr) })
	t.Run("ended while terok-web was stopped", func(t *testing.T) { testEndedWhileDown(t, tr) })
	t.Run("podman restarted under a task", func(t *testing.T) { testPodmanRestart(t, tr) })
	t.Run("several at once", func(t *testing.T) { testConcurrent(t, tr) })
	t.Run("gate down", func(t *testing.T) {
		tr.supervisorctl(t, "stop", "terok-gate")
		out, code := tr.terok(t, "task", "run", "demo", "--cmd", "true")
		_, listCode := tr.terok(t, "project", "list")
		tr.supervisorctl(t, "start", "terok-gate")
		if listCode != 0 {
			t.Fatalf("project list failed while only the gate is down: exit %d", listCode)
		}
		if code != 3 || !strings.Contains(out, "terok-gate does not answer") {
			t.Fatalf("run with the gate stopped: exit %d, want 3 naming terok-gate:\n%s", code, out)
		}
	})
	t.Run("a 10 MB line and a client that leaves", func(t *testing.T) { testBigLine(t, tr) })
	t.Run("limits", func(t *testing.T) {
		tr.mustTerok(t, "project", "add", "limited", "--upstream", up, "--memory", "256m", "--cpus", "0.5", "--pids", "100", "--cmd", "echo limited-ran")
		id := strings.TrimSpace(tr.mustTerok(t, "task", "run", "limited"))
		out, code := tr.terok(t, "task", "wait", id)
		tl := tr.mustTerok(t, "task", "timeline", id)
		if code != 0 {
			logs, _ := tr.terok(t, "task", "logs", id)
			t.Fatalf("a task with limits: exit %d %s\n%s\n%s", code, out, logs, tl)
		}
		// On a cgroup v1 (hybrid) host rootless Podman ignores limits and
		// says so; the timeline must pass that on.
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil && !strings.Contains(tl, "podman: Resource limits are not supported") {
			t.Fatalf("the limits did not reach Podman (no warning on this cgroup v1 host):\n%s", tl)
		}
	})
	t.Run("interactive attach", func(t *testing.T) { testInteractive(t, tr) })
	t.Run("web mode", func(t *testing.T) { testWebMode(t, tr, up) })
	t.Run("log lines on the websocket", func(t *testing.T) { testLogEvents(t, tr) })
}

// hasLine reports whether out has a line that is exactly want: a task's
// line "up" must not be found in "upstream".
func hasLine(out, want string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimRight(l, "\r") == want {
			return true
		}
	}
	return false
}

func (tr *tree) supervisorctl(t *testing.T, args ...string) string {
	t.Helper()
	out, code := tr.bin(t, "supervisorctl", append([]string{"-s", "unix://" + tr.run + "/supervisor.sock"}, args...)...)
	if code != 0 {
		t.Fatalf("supervisorctl %v: exit %d\n%s", args, code, out)
	}
	return out
}

// testEndedWhileDown: the task's container ends while terok-web is
// stopped; at its next start terok-web records the exit, the output and
// revokes the token.
func testEndedWhileDown(t *testing.T, tr *tree) {
	id := strings.TrimSpace(tr.mustTerok(t, "task", "run", "demo", "--cmd", "echo one; sleep 3; echo two; exit 3"))
	task := tr.taskJSON(t, id)
	tr.supervisorctl(t, "stop", "terok-web")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pm := podmanapi.New(filepath.Join(tr.run, "podman.sock"))
	if code, err := pm.WaitContainer(ctx, task.Container); err != nil || code != 3 {
		t.Fatalf("wait for the container through Podman: %d %v", code, err)
	}
	if n := liveTokens(t, tr, "demo", id); n != 1 {
		t.Fatalf("%d token(s) before terok-web is back, want the task's 1", n)
	}
	tr.supervisorctl(t, "start", "terok-web")
	if out, code := tr.terok(t, "task", "wait", id); code != 3 {
		t.Fatalf("wait: exit %d, want 3\n%s", code, out)
	}
	if logs := tr.mustTerok(t, "task", "logs", id); !hasLine(logs, "one") || !hasLine(logs, "two") {
		t.Fatalf("output written while terok-web was down is missing:\n%s", logs)
	}
	waitFor(t, "the token's revocation", 30*time.Second, func() bool { return liveTokens(t, tr, "demo", id) == 0 })
}

// testPodmanRestart restarts podman-service (and so Podman's API) while
// a task runs; the task keeps running and its end is recorded.
func testPodmanRestart(t *testing.T, tr *tree) {
	id := strings.TrimSpace(tr.mustTerok(t, "task", "run", "demo", "--cmd", "echo up; sleep 5; echo still-here"))
	waitFor(t, "the task's first line", 60*time.Second, func() bool {
		out, _ := tr.terok(t, "task", "logs", id)
		return hasLine(out, "up")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nextEvent, stopEvents := tr.events(t, ctx)
	defer stopEvents()
	tr.supervisorctl(t, "restart", "podman-service")
	// The WebSocket reports the daemon's state changes.
	for seen := false; !seen; {
		ev, err := nextEvent()
		if err != nil {
			t.Fatalf("events: %v (no daemon event for podman-service)", err)
		}
		seen = ev.Type == webapi.EventDaemon && ev.Daemon != nil && ev.Daemon.Name == "podman-service"
	}
	if out, code := tr.terok(t, "task", "wait", id); code != 0 {
		logs, _ := tr.terok(t, "task", "logs", id)
		t.Fatalf("wait after the Podman restart: exit %d\n%s\n%s", code, out, logs)
	}
	if logs := tr.mustTerok(t, "task", "logs", id); !hasLine(logs, "still-here") {
		t.Fatalf("logs after the Podman restart:\n%s", logs)
	}
}

// testConcurrent starts three tasks of one project at once.
func testConcurrent(t *testing.T, tr *tree) {
	type res struct {
		out  string
		code int
	}
	ch := make(chan res, 3)
	for i := range 3 {
		go func() {
			cmd := exec.Command(filepath.Join(tr.root, "bin", "terok"), "task", "run", "demo", "--cmd", fmt.Sprintf("echo task-%d", i))
			cmd.Env = tr.env()
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			ch <- res{strings.TrimSpace(string(out)), code}
		}()
	}
	ids := map[string]bool{}
	for range 3 {
		r := <-ch
		if r.code != 0 {
			t.Fatalf("concurrent run: exit %d\n%s", r.code, r.out)
		}
		ids[r.out] = true
	}
	if len(ids) != 3 {
		t.Fatalf("three runs gave ids %v", ids)
	}
	for id := range ids {
		if out, code := tr.terok(t, "task", "wait", id); code != 0 {
			t.Fatalf("wait %s: %d %s", id, code, out)
		}
	}
}

// testLogEvents subscribes to a task's log lines on the WebSocket.
func testLogEvents(t *testing.T, tr *tree) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Subscribed to every task's lines before the task exists: no line
	// can come before the subscription.
	nextEvent, stopEvents := tr.events(t, ctx, "*")
	defer stopEvents()
	// tr.events returned after the server acknowledged the subscription.
	id := strings.TrimSpace(tr.mustTerok(t, "task", "run", "demo", "--cmd", "echo line-a; echo line-b"))
	var got []string
	for {
		ev, err := nextEvent()
		if err != nil {
			t.Fatalf("events: %v (lines so far %q)", err, got)
		}
		if ev.Type == webapi.EventLog && ev.TaskID == id {
			got = append(got, ev.Line)
		}
		if ev.Type == webapi.EventTask && ev.TaskID == id && ev.Task != nil && webapi.Ended(ev.Task.State) {
			break
		}
	}
	if j := strings.Join(got, "|"); !strings.Contains(j, "line-a|line-b") {
		t.Fatalf("log lines on the websocket: %q", got)
	}
}

// testShieldLive: a task that connects to a host listener (at the gate's
// address, another port) is refused at once by the shield; allowing the
// address live lets the same running task through.
func testShieldLive(t *testing.T, tr *tree) {
	port := e2ekit.HostListener(t)
	// curl exit 7 is "connection refused" (the shield's reset); 28 would
	// be a timeout. Each attempt's time is printed.
	cmd := fmt.Sprintf(`i=0; while [ $i -lt 900 ]; do i=$((i+1))
  body=$(curl -sS -m 5 -w ' %%{time_total}' http://10.0.2.2:%d/ 2>/dev/null); rc=$?
  if [ $rc = 0 ]; then echo "reached: $body"; exit 0; fi
  echo "attempt rc=$rc in$body s"; sleep 0.2; done; exit 1`, port)
	id := strings.TrimSpace(tr.mustTerok(t, "task", "run", "demo", "--cmd", cmd))
	waitFor(t, "a refused attempt in the task log", 90*time.Second, func() bool {
		out, _ := tr.terok(t, "task", "logs", id)
		return strings.Contains(out, "attempt rc=")
	})
	logs := tr.mustTerok(t, "task", "logs", id)
	if !strings.Contains(logs, "attempt rc=7") || strings.Contains(logs, "attempt rc=28") {
		t.Fatalf("the shield should refuse at once (curl 7), not let it time out:\n%s", logs)
	}
	st := tr.mustTerok(t, "shield", "status", id, "--json")
	if !strings.Contains(st, `"mode": "up"`) {
		t.Fatalf("shield status:\n%s", st)
	}
	tr.mustTerok(t, "shield", "allow", id, "10.0.2.2")
	if out, code := tr.terok(t, "task", "wait", id); code != 0 {
		logs, _ := tr.terok(t, "task", "logs", id)
		t.Fatalf("after allow the task should reach the host: exit %d %s\n%s", code, out, logs)
	}
	if logs := tr.mustTerok(t, "task", "logs", id); !strings.Contains(logs, "reached: "+e2ekit.HostGreeting) {
		t.Fatalf("logs:\n%s", logs)
	}
	tl := tr.mustTerok(t, "task", "timeline", id)
	t.Logf("shield task log:\n%s\ntimeline:\n%s", tr.mustTerok(t, "task", "logs", id), tl)
	if !strings.Contains(tl, "allow 10.0.2.2") {
		t.Fatalf("the timeline lacks the live allow:\n%s", tl)
	}

	// Panic blocks every running task at once.
	id = strings.TrimSpace(tr.mustTerok(t, "task", "run", "demo", "--cmd", "sleep 300"))
	tr.mustTerok(t, "shield", "panic")
	if st := tr.mustTerok(t, "shield", "status", id, "--json"); !strings.Contains(st, `"mode": "block"`) {
		t.Fatalf("after panic:\n%s", st)
	}
	tr.mustTerok(t, "task", "stop", id)
}

func testTCPAuth(t *testing.T, tr *tree) {
	base := "http://" + tr.webAddr
	resp, err := http.Get(base + "/api/v1/tasks")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: HTTP %d, want 401", resp.StatusCode)
	}
	u := strings.TrimSpace(tr.mustTerok(t, "web", "url"))
	i := strings.Index(u, "token=")
	if i < 0 || !strings.HasPrefix(u, base) {
		t.Fatalf("web url %q: want %s/?token=...", u, base)
	}
	token := u[i+len("token="):]
	out, code := tr.terok(t, "--url", base, "--token", token, "task", "list", "--json")
	if code != 0 || !strings.Contains(out, `"project": "demo"`) {
		t.Fatalf("task list over TCP: exit %d\n%s", code, out)
	}
	out, code = tr.terok(t, "--url", base, "--token", token+"x", "task", "list")
	if code == 0 || !strings.Contains(out, "access token") {
		t.Fatalf("a wrong token: exit %d\n%s", code, out)
	}
	// The WebSocket checks the Origin.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, resp2, err := websocket.Dial(ctx, "ws://"+tr.webAddr+"/api/v1/events", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + token}, "Origin": {"http://evil.example"}}})
	if err == nil || resp2 == nil || resp2.StatusCode != http.StatusForbidden {
		t.Fatalf("a foreign Origin was not refused: %v %v", err, resp2)
	}
}

func testStopRemove(t *testing.T, tr *tree) {
	id := strings.TrimSpace(tr.mustTerok(t, "task", "run", "demo", "--cmd", "echo started; sleep 300"))
	waitFor(t, "the task's output", 60*time.Second, func() bool {
		out, _ := tr.terok(t, "task", "logs", id)
		return strings.Contains(out, "started")
	})
	out, code := tr.terok(t, "task", "rm", id)
	if code == 0 || !strings.Contains(out, "--force") {
		t.Fatalf("rm of a running task: exit %d\n%s", code, out)
	}
	task := tr.taskJSON(t, id)
	tr.mustTerok(t, "task", "stop", id)
	if task = tr.taskJSON(t, id); task.State != webapi.StateStopped {
		t.Fatalf("after stop: %+v", task)
	}
	if n := liveTokens(t, tr, "demo", id); n != 0 {
		t.Fatalf("stop left %d token(s)", n)
	}
	tr.mustTerok(t, "task", "rm", id)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pm := podmanapi.New(filepath.Join(tr.run, "podman.sock"))
	if ok, err := pm.ContainerExists(ctx, task.Container); err != nil || ok {
		t.Fatalf("the container survived rm: %v %v", ok, err)
	}
	if ok, err := pm.VolumeExists(ctx, task.Volume); err != nil || ok {
		t.Fatalf("the workspace volume survived rm: %v %v", ok, err)
	}
	if _, err := os.Stat(filepath.Join(tr.dev, "state", "tasks", "demo", id)); !os.IsNotExist(err) {
		t.Fatalf("the task's files survived rm: %v", err)
	}
}

// testReconcile kills terok-web with SIGKILL while a task runs; the
// supervisor restarts it, it follows the task again, and the end, the
// output and the token's revocation are all recorded.
func testReconcile(t *testing.T, tr *tree) {
	id := strings.TrimSpace(tr.mustTerok(t, "task", "run", "demo", "--cmd", "echo before; sleep 6; echo after-the-kill"))
	waitFor(t, "the task's first line", 60*time.Second, func() bool {
		out, _ := tr.terok(t, "task", "logs", id)
		return strings.Contains(out, "before")
	})
	sup := "unix://" + tr.run + "/supervisor.sock"
	pidOut, code := tr.bin(t, "supervisorctl", "-s", sup, "pid", "terok-web")
	pid, err := strconv.Atoi(strings.TrimSpace(pidOut))
	if code != 0 || err != nil || pid <= 0 {
		t.Fatalf("pid of terok-web: %q %d", pidOut, code)
	}
	if err := exec.Command("kill", "-9", strconv.Itoa(pid)).Run(); err != nil {
		t.Fatalf("kill -9: %v", err)
	}
	waitFor(t, "terok-web back under a new pid", 60*time.Second, func() bool {
		out, code := tr.bin(t, "supervisorctl", "-s", sup, "pid", "terok-web")
		n, _ := strconv.Atoi(strings.TrimSpace(out))
		if code != 0 || n <= 0 || n == pid {
			return false
		}
		_, c := tr.terok(t, "task", "show", id)
		return c == 0
	})
	if out, code := tr.terok(t, "task", "wait", id); code != 0 {
		t.Fatalf("wait after the restart: exit %d\n%s", code, out)
	}
	logs := tr.mustTerok(t, "task", "logs", id)
	if strings.Count(logs, "before") != 1 || !strings.Contains(logs, "after-the-kill") {
		t.Fatalf("the log after the restart should hold each line once:\n%s", logs)
	}
	if n := liveTokens(t, tr, "demo", id); n != 0 {
		t.Fatalf("%d token(s) alive after the task ended", n)
	}
	t.Logf("reconciled task log:\n%s", logs)
	if tl := tr.mustTerok(t, "task", "timeline", id); !strings.Contains(tl, "reconcile") {
		t.Fatalf("the timeline does not show the reconcile:\n%s", tl)
	}
}

// testInteractive attaches to an interactive task through the CLI (over
// web.sock), sends commands to its shell and gets their output and the
// shell's exit code.
func testInteractive(t *testing.T, tr *tree) {
	id := strings.TrimSpace(tr.mustTerok(t, "task", "run", "demo", "--mode", "interactive"))
	waitFor(t, "the interactive task's workspace", 60*time.Second, func() bool {
		out, _ := tr.terok(t, "task", "logs", id)
		return strings.Contains(out, "waiting for terok task attach")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(tr.root, "bin", "terok"), "task", "attach", id)
	cmd.Env = tr.env()
	cmd.Stdin = strings.NewReader("echo hello-$((6*7)); pwd; cat README.md; exit 3\n")
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != 3 || !strings.Contains(string(out), "hello-42") || !strings.Contains(string(out), "/workspace") || !strings.Contains(string(out), "demo project") {
		t.Fatalf("attach: exit %d, want 3 and the commands' output:\n%s", code, out)
	}
	if task := tr.taskJSON(t, id); task.State != webapi.StateRunning {
		t.Fatalf("the task should outlive the attach: %+v", task)
	}
	tr.mustTerok(t, "task", "stop", id)
	if task := tr.taskJSON(t, id); task.State != webapi.StateStopped || task.ExitCode == nil || *task.ExitCode != 0 {
		t.Fatalf("after stop (the entry ends cleanly on SIGTERM): %+v", task)
	}
}

// testWebMode runs a web-mode task whose agent serves HTTP on the
// container's loopback: Podman publishes nothing; terok-web listens on the
// task's port and answers only a holder of a one-time ticket (terok task
// ui), reaching the app inside the task's namespaces; the listener closes
// when the task ends.
func testWebMode(t *testing.T, tr *tree, up string) {
	serve := `exec perl -MIO::Socket::INET -e '$s=IO::Socket::INET->new(LocalAddr=>"127.0.0.1",LocalPort=>8080,Listen=>5,ReuseAddr=>1) or die "listen: $!"; print "serving\n"; $|=1; while($c=$s->accept){ $p=<$c>; $k=""; while(<$c>){last if /^\r?$/; $k.=$_ if /^cookie:/i} print $c "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nserved-by-task $p$k"; close $c }'`
	tr.mustTerok(t, "project", "add", "site", "--upstream", up, "--web-port", "8080", "--cmd", serve)
	out := tr.mustTerok(t, "task", "run", "site", "--mode", "web", "--json")
	var task webapi.Task
	if err := json.Unmarshal([]byte(out), &task); err != nil {
		t.Fatalf("run --json: %v\n%s", err, out)
	}
	if task.WebPort < 7860 || task.WebPort > 7880 {
		t.Fatalf("web port %d, want one of 7860-7880", task.WebPort)
	}
	addr := fmt.Sprintf("http://127.0.0.1:%d/", task.WebPort)
	if task.WebURL != "" && task.WebURL != "http://localhost:"+strconv.Itoa(task.WebPort)+"/" && task.WebURL != addr {
		t.Fatalf("web_url %q, want the task's port on the listen host", task.WebURL)
	}
	if show := tr.mustTerok(t, "task", "show", task.ID); !strings.Contains(show, "web UI:") || !strings.Contains(show, strconv.Itoa(task.WebPort)) {
		t.Fatalf("task show lacks the web UI address:\n%s", show)
	}
	// Podman publishes nothing for the task.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if raw := rawInspect(t, tr, ctx, task.Container); strings.Contains(raw, `"HostPort"`) {
		t.Fatalf("Podman publishes a port of the web task:\n%s", raw)
	}
	nc := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string, cookie *http.Cookie) (int, string, *http.Response) {
		req, _ := http.NewRequest("GET", u, nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := nc.Do(req)
		if err != nil {
			return 0, err.Error(), nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp
	}
	// Without a ticket: terok-web's refusal, not the app.
	if code, body, _ := get(addr+"hello", nil); code != 401 || strings.Contains(body, "served-by-task") {
		t.Fatalf("the task's port without a ticket: %d %q", code, body)
	}
	u := strings.TrimSpace(tr.mustTerok(t, "task", "ui", task.ID))
	if !strings.Contains(u, ":"+strconv.Itoa(task.WebPort)+"/?terok-ui-ticket=") {
		t.Fatalf("terok task ui printed %q", u)
	}
	u = strings.Replace(u, "localhost", "127.0.0.1", 1) + "&deep=1"
	code, _, resp := get(u, nil)
	if code != 303 || resp == nil || len(resp.Cookies()) != 1 {
		t.Fatalf("the ticket: %d", code)
	}
	grant := resp.Cookies()[0]
	var body string
	waitFor(t, "the task's web app through terok-web", 60*time.Second, func() bool {
		code, body, _ = get(addr+"hello?deep=1", grant)
		return code == 200 && strings.Contains(body, "served-by-task GET /hello?deep=1")
	})
	if strings.Contains(body, "terok_") {
		t.Fatalf("a terok cookie reached the app:\n%s", body)
	}
	// The ticket was for one use.
	if code, _, _ := get(u, nil); code != 401 {
		t.Fatalf("the ticket again: %d, want 401", code)
	}
	// DNS rebinding: the task's listener refuses an unknown host name.
	req, _ := http.NewRequest("GET", addr, nil)
	req.Host = "rebound.evil.example:" + strconv.Itoa(task.WebPort)
	req.AddCookie(grant)
	if resp, err := nc.Do(req); err != nil || resp.StatusCode != 403 {
		t.Fatalf("rebinding Host on the task's port: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	tr.mustTerok(t, "task", "stop", task.ID)
	waitFor(t, "the task's listener closed", 30*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", task.WebPort), 2*time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	tr.mustTerok(t, "task", "rm", task.ID)
}

// rawInspect is Podman's own inspect answer for a container (the fields
// podmanapi does not decode).
func rawInspect(t *testing.T, tr *tree, ctx context.Context, id string) string {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", filepath.Join(tr.run, "podman.sock"))
	}}}
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://podman/v4.0.0/libpod/containers/"+id+"/json", nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("inspect %s: %v", id, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("inspect %s: %d %s", id, resp.StatusCode, b)
	}
	return string(b)
}

// execIDs lists the exec sessions Podman holds for a container.
func execIDs(t *testing.T, tr *tree, id string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var c struct {
		ExecIDs []string `json:"ExecIDs"`
	}
	if err := json.Unmarshal([]byte(rawInspect(t, tr, ctx, id)), &c); err != nil {
		t.Fatal(err)
	}
	return c.ExecIDs
}

// testBigLine: a task prints one 10 MB line; the log keeps it whole, a
// follower that stays gets it whole and in order, and a follower that
// leaves in the middle of the big line does not disturb terok-web.
func testBigLine(t *testing.T, tr *tree) {
	id := strings.TrimSpace(tr.mustTerok(t, "task", "run", "demo", "--cmd", "echo start; sleep 2; head -c 10000000 /dev/zero | tr '\\0' x; echo; sleep 2; echo after-the-big-line"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	followed := make(chan []byte, 1)
	go func() {
		var b []byte
		for chunk, err := range tr.web().Logs(ctx, id, -1, true) {
			if err != nil {
				break
			}
			b = append(b, chunk...)
		}
		followed <- b
	}()
	lctx, leave := context.WithCancel(ctx)
	f := exec.CommandContext(lctx, filepath.Join(tr.root, "bin", "terok"), "task", "logs", "-f", id)
	f.Env = tr.env()
	stdout, _ := f.StdoutPipe()
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	// Read into the big line (a megabyte of it), then leave.
	const into = len("start\n") + 1<<20
	if _, err := io.ReadFull(stdout, make([]byte, into)); err != nil {
		t.Fatalf("follow: %v", err)
	}
	leave() // the client leaves in the middle of the big line
	f.Wait()
	if out, code := tr.terok(t, "task", "wait", id); code != 0 {
		t.Fatalf("wait: %d %s", code, out)
	}
	var b []byte
	for chunk, err := range tr.web().Logs(context.Background(), id, -1, false) {
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, chunk...)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	var big string
	for _, l := range lines {
		if len(l) > len(big) {
			big = l
		}
	}
	if len(big) != 10000000 || strings.Trim(big, "x") != "" || lines[len(lines)-1] != "after-the-big-line" {
		t.Fatalf("longest line %d bytes (want one of 10000000), last line %q, %d lines", len(big), lines[len(lines)-1], len(lines))
	}
	select {
	case got := <-followed:
		if !bytes.Equal(got, b) {
			t.Fatalf("the follower that stayed got %d bytes, the log has %d", len(got), len(b))
		}
	case <-ctx.Done():
		t.Fatal("the follower that stayed did not end with the task")
	}
	tr.mustTerok(t, "health")
}
