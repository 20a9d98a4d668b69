package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// TestAgentThroughVault: the real Claude Code in a task authenticates
// through the vault's broker with its phantom. The vault holds the key
// (terok secret set on standard input) and its anthropic points at a fake
// Anthropic-Messages provider over TLS on loopback; the project only
// selects Claude Code (build.agents), with no key in agent.env and no
// agent.providers: the recipe's provider is lent because the vault has
// a key for it. The answer is in the task's log; the fake saw the real
// key and never the phantom; the task's environment holds the phantom in
// ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL pointing at the broker, the
// provider's host is denied to it; the real key is in no daemon log, no
// task log, no timeline, no answer of the API and no file of the tree.
func TestAgentThroughVault(t *testing.T) {
	tr := startBuildTree(t)
	tr.waitRunning(t)
	t.Cleanup(func() { removeTasks(t, tr) })
	importTaskImage(t, tr)
	up := upstream(t, tr)

	const answer = "FAKE-PROVIDER-ANSWER-THROUGH-THE-VAULT-8812"
	fake, _ := startFakeAnthropic(t, tr, answer)
	real := realKey()
	if out, code := secretSet(t, tr, real, "anthropic"); code != 0 || !strings.Contains(out, "stored anthropic (global)") {
		t.Fatalf("secret set: exit %d\n%s", code, out)
	}

	const project = "vaulted"
	tr.mustTerok(t, "project", "add", project, "--upstream", up)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute) // a bound for every call below, the build and the task included
	defer cancel()
	tr.setBuild(t, ctx, project, "")
	if out, code := tr.terokLong(t, 12*time.Minute, "project", "build", project); code != 0 {
		t.Fatalf("project build: exit %d\n%s", code, tail(out, 60))
	}

	id := strings.TrimSpace(tr.mustTerok(t, "task", "run", project, "--agent", "claude", "--prompt", "Say hello."))
	out, code := tr.terokLong(t, 4*time.Minute, "task", "wait", id)
	logs, _ := tr.terok(t, "task", "logs", id)
	tl, _ := tr.terok(t, "task", "timeline", id)
	if code != 0 || !strings.Contains(logs, answer) {
		t.Fatalf("claude's task: exit %d %s\n--- log ---\n%s\n--- timeline ---\n%s\n--- the fake saw ---\n%+v",
			code, out, tail(logs, 40), tl, fake.Requests())
	}

	// What the task held: the phantom, and the broker at the gate's host.
	task := tr.taskJSON(t, id)
	inspect, env, annotations := inspectEnv(t, tr, ctx, task.Container)
	phantom := env["ANTHROPIC_API_KEY"]
	_, vaultPort, _ := net.SplitHostPort(tr.vaultAddr)
	if !strings.HasPrefix(phantom, "sk-ant-api03-") || phantom == real {
		t.Fatalf("the task's ANTHROPIC_API_KEY %q is no phantom", phantom)
	}
	if want := "http://10.0.2.2:" + vaultPort + "/anthropic"; env["ANTHROPIC_BASE_URL"] != want {
		t.Errorf("the task's ANTHROPIC_BASE_URL %q, want the broker %s", env["ANTHROPIC_BASE_URL"], want)
	}
	if got := annotations[shieldapi.AnnotationDeny]; got != "127.0.0.1" {
		t.Errorf("deny annotation %q, want the provider's host 127.0.0.1", got)
	}

	// The fake got Claude Code's requests with the real key, never the
	// phantom.
	if len(fake.Messages()) == 0 {
		t.Fatalf("the fake saw no Messages request, only %+v", fake.Requests())
	}
	for _, r := range fake.Requests() {
		if got := r.Header.Get("X-Api-Key"); got != real {
			t.Errorf("%s %s reached the fake with x-api-key %q, want the real key", r.Method, r.Path, got)
		}
		for k, vs := range r.Header {
			for _, v := range vs {
				if strings.Contains(v, phantom) {
					t.Errorf("%s %s reached the fake with the phantom in %s", r.Method, r.Path, k)
				}
			}
		}
	}
	// Every key-like variable of the task holds that phantom (the
	// recipe's CLAUDE_CODE_OAUTH_TOKEN too).
	for k, v := range env {
		if strings.HasPrefix(v, "sk-ant-") && v != phantom {
			t.Errorf("the task's %s holds %q, not its phantom", k, v)
		}
	}
	n := len(fake.Requests())
	if !strings.Contains(tl, "credentials: 1 phantom(s) minted (anthropic)") || !strings.Contains(tl, "credentials: 1 phantom(s) revoked") ||
		!strings.Contains(tl, fmt.Sprintf("credentials: the broker handled %d request(s) of this task: %d forwarded, 0 refused", n, n)) {
		t.Errorf("timeline:\n%s", tl)
	}

	where, files := huntKey(t, tr, real, project, id, task.Container,
		map[string]string{"podman inspect": inspect, "task log": logs, "timeline": tl})
	t.Logf("the fake saw %d request(s); looked for the real key in %d files and %d answers and logs", len(fake.Requests()), files, len(where))
}
