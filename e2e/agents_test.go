package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit/fakemodel"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// startBuildTree starts the native tree for tests that build agent
// images. It sets no TMPDIR of its own: scripts/run.sh gives
// podman-service a private one per Podman user (Podman 4.3 would
// otherwise keep build cache mounts in one /var/tmp/buildah-cache that
// its first user owns, and the Podman tests' user builds first).
func startBuildTree(t *testing.T) *tree {
	t.Helper()
	return startTree(t)
}

// setBuild gives project the build section selecting Claude Code, with
// snippet as its own Containerfile lines.
func (tr *tree) setBuild(t *testing.T, ctx context.Context, project, snippet string) {
	t.Helper()
	p, err := tr.web().Project(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	p.Project.Build = &webapi.Build{Agents: []string{"claude"}, Snippet: snippet}
	if _, err := tr.web().SaveProject(ctx, p.Project); err != nil {
		t.Fatal(err)
	}
}

// terokLong runs the CLI against the tree with a longer bound than bin's
// (a build with a cold agents layer takes minutes).
func (tr *tree) terokLong(t *testing.T, limit time.Duration, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(tr.root, "bin", "terok"), args...)
	cmd.Env = tr.env()
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("terok %v: %v\n%s", args, err, out)
	}
	return string(out), 0
}

// TestAgents: the native tree as root with rootless Podman 4.3 as tke2e,
// through the terok CLI: a project selecting Claude Code (build.agents)
// refuses a task until it is built; terok project build builds its base,
// agents and project layers with each step printed; terok task run
// --agent claude runs the real Claude Code headless with the prompt,
// against a fake Anthropic-Messages server on the host's loopback
// (reached through the shield: shield.allow 10.0.2.2, the key from
// agent.env, the insecure interim until the vault); the answer is in the
// task's log and the fake saw the agent's request with its key; the
// recipe's telemetry switch is in the task's environment; after the
// snippet changes the task shows its image as stale and a new task is
// refused until `task run --build` builds first.
func TestAgents(t *testing.T) {
	tr := startBuildTree(t)
	tr.waitRunning(t)
	t.Cleanup(func() {
		out, _ := tr.terok(t, "task", "list", "--json")
		var ts []webapi.Task
		json.Unmarshal([]byte(out), &ts)
		for _, x := range ts {
			tr.terok(t, "task", "rm", "--force", x.ID)
		}
	})
	importTaskImage(t, tr)
	up := upstream(t, tr)

	const answer = "FAKE-MODEL-ANSWER-E2E-4471"
	fake, err := fakemodel.Start("127.0.0.1:0", answer)
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	key := "sk-ant-terok-e2e-key"
	tr.mustTerok(t, "project", "add", "agents", "--upstream", up, "--allow", "10.0.2.2",
		"--env", fmt.Sprintf("ANTHROPIC_BASE_URL=http://10.0.2.2:%d", fake.Port()), "--env", "ANTHROPIC_API_KEY="+key)
	// One bound for the whole test's calls: the builds below take a minute
	// or more on a fresh machine, and calls after them use ctx too.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	setBuild := func(snippet string) {
		t.Helper()
		tr.setBuild(t, ctx, "agents", snippet)
	}
	setBuild("RUN echo one > /etc/terok-e2e-snippet\n")

	out := tr.mustTerok(t, "agents", "list")
	for _, want := range []string{"claude", "@anthropic-ai/claude-code", "opencode", "shipped"} {
		if !strings.Contains(out, want) {
			t.Fatalf("agents list lacks %q:\n%s", want, out)
		}
	}
	out, code := tr.terok(t, "task", "run", "agents", "--agent", "claude", "--prompt", "Say hello.")
	if code == 0 || !strings.Contains(out, "terok project build agents") {
		t.Fatalf("a task before the build: exit %d\n%s", code, out)
	}

	start := time.Now()
	out, code = tr.terokLong(t, 12*time.Minute, "project", "build", "agents")
	if code != 0 {
		t.Fatalf("project build: exit %d\n%s", code, tail(out, 60))
	}
	t.Logf("first build in %s:\n%s", time.Since(start).Round(time.Second), tail(out, 25))
	for _, want := range []string{"base     reused localhost/terok-base:latest", "agents   building localhost/terok-agents:", "STEP 1/",
		"project  built localhost/terok-project-agents:", "built localhost/terok-project-agents:latest", "claude@"} {
		if !strings.Contains(out, want) {
			t.Fatalf("build output lacks %q:\n%s", want, tail(out, 60))
		}
	}
	if out := tr.mustTerok(t, "project", "image", "agents"); !strings.Contains(out, "state:     current") {
		t.Fatalf("project image:\n%s", out)
	}

	id := strings.TrimSpace(tr.mustTerok(t, "task", "run", "agents", "--agent", "claude", "--prompt", "Say hello."))
	out, code = tr.terokLong(t, 4*time.Minute, "task", "wait", id)
	logs, _ := tr.terok(t, "task", "logs", id)
	if code != 0 || !strings.Contains(logs, answer) {
		t.Fatalf("claude's task: exit %d %s\nlog:\n%s", code, out, tail(logs, 40))
	}
	msgs := fake.Messages()
	if len(msgs) == 0 {
		t.Fatalf("the fake saw no Messages request, only %+v", fake.Requests())
	}
	for _, m := range msgs {
		if m.Header.Get("x-api-key") != key {
			t.Fatalf("a request with key %q, want the project's", m.Header.Get("x-api-key"))
		}
	}
	task := tr.taskJSON(t, id)
	if task.Agent != "claude" || task.Image != "localhost/terok-project-agents:latest" || task.ImageID == "" || task.ImageStale != "" ||
		!strings.Contains(task.Command, `claude --dangerously-skip-permissions -p "$TEROK_PROMPT"`) {
		t.Fatalf("task %+v", task)
	}
	// The recipe's telemetry switch and its hosts are the task's: in its
	// environment and its shield annotation (shown by shield status).
	ct, err := podmanapi.New(filepath.Join(tr.run, "podman.sock")).InspectContainer(ctx, task.Container)
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Join(ct.Config.Env, "\n")
	for _, kv := range []string{"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "TEROK_AGENT=claude"} {
		if !strings.Contains(env, kv) {
			t.Fatalf("the task's environment lacks %s:\n%s", kv, env)
		}
	}
	if allow := ct.Config.Annotations["terok.shield.allow"]; !strings.Contains(allow, "10.0.2.2") || !strings.Contains(allow, "api.anthropic.com") {
		t.Fatalf("the task's allowlist %q", allow)
	}

	// A changed snippet makes the project's image stale: the task says
	// so, a new task is refused, and --build builds first (the agents
	// layer reused), then runs.
	setBuild("RUN echo two > /etc/terok-e2e-snippet\n")
	if out := tr.mustTerok(t, "task", "show", id); !strings.Contains(out, "STALE") || !strings.Contains(out, "the snippet changed") {
		t.Fatalf("task show after the edit:\n%s", out)
	}
	out, code = tr.terok(t, "task", "run", "agents", "--agent", "claude", "--prompt", "again")
	if code == 0 || !strings.Contains(out, "is stale") || !strings.Contains(out, "terok project build agents") {
		t.Fatalf("a task on a stale image: exit %d\n%s", code, out)
	}
	out, code = tr.terokLong(t, 6*time.Minute, "task", "run", "agents", "--build", "--cmd", "cat /etc/terok-e2e-snippet")
	if code != 0 || !strings.Contains(out, "agents   reused localhost/terok-agents:") || !strings.Contains(out, "project  built") {
		t.Fatalf("task run --build: exit %d\n%s", code, tail(out, 30))
	}
	id2 := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
	if out, code := tr.terokLong(t, 2*time.Minute, "task", "wait", id2); code != 0 {
		t.Fatalf("the rebuilt image's task: exit %d %s", code, out)
	}
	if logs := tr.mustTerok(t, "task", "logs", id2); !strings.Contains(logs, "two") {
		t.Fatalf("the rebuilt image's task log:\n%s", logs)
	}
	if out := tr.mustTerok(t, "task", "show", id); !strings.Contains(out, "rebuilt since this task started") {
		t.Fatalf("the first task after the rebuild:\n%s", out)
	}

	// The browser (Chromium): the project page's Image panel says the
	// image is stale after another edit, Build rebuilds it with its steps
	// shown live, a build the CLI starts shows on the open page too, the
	// new-task form offers the agent, and the first task's page says its
	// image has been rebuilt since.
	b := newBrowser(t)
	base := "http://" + tr.webAddr
	b.open(t, strings.TrimSpace(tr.mustTerok(t, "web", "url")))
	setBuild("RUN echo three > /etc/terok-e2e-snippet\n")
	b.open(t, base+"/project/agents")
	b.waitText(t, "#image-state", "stale", 30*time.Second)
	b.waitText(t, "#image-reason", "the snippet changed", 10*time.Second)
	b.waitJS(t, "the agent choice", `(document.querySelector('#task-agent') || {}).value === 'claude'`, 10*time.Second)
	b.click(t, "#build")
	b.waitText(t, "#build-done", "Built localhost/terok-project-agents:latest", 5*time.Minute)
	b.waitJS(t, "the build's steps", `[...document.querySelectorAll('#build-steps li.step')].some((li) => li.textContent.includes('RUN echo three'))`, 10*time.Second)
	b.waitText(t, "#build-steps", "agents: reused localhost/terok-agents:", 10*time.Second)
	b.waitText(t, "#image-state", "current", 30*time.Second)
	b.shot(t, "agents-project-built")
	// A build started elsewhere (the CLI) shows on the open page too: its
	// steps and its end, through the events WebSocket.
	setBuild("RUN echo four > /etc/terok-e2e-snippet\n")
	b.open(t, base+"/project/agents")
	b.waitText(t, "#image-state", "stale", 30*time.Second)
	if out, code := tr.terokLong(t, 5*time.Minute, "project", "build", "agents"); code != 0 {
		t.Fatalf("project build: exit %d\n%s", code, tail(out, 30))
	}
	b.waitText(t, "#build-done", "Built localhost/terok-project-agents:latest", 30*time.Second)
	b.waitJS(t, "the CLI build's steps on the page", `[...document.querySelectorAll('#build-steps li.step')].some((li) => li.textContent.includes('RUN echo four'))`, 10*time.Second)
	b.waitText(t, "#image-state", "current", 30*time.Second)
	b.open(t, base+"/task/"+id)
	b.waitText(t, "#task-agent-name", "claude", 30*time.Second)
	b.waitText(t, "#image-stale", "rebuilt since this task started", 10*time.Second)
}

func tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
