package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/e2e/e2ekit"
)

// TestDockerNewcomer covers what a new user met in Docker (issue 17): a
// task killed by docker stop recorded as a success, a task started during
// the first task-image import failing with advice to run make, and no
// diagnosis without --privileged.
func TestDockerNewcomer(t *testing.T) {
	buildImage(t)
	t.Run("docker stop stops a task, recorded as stopped", testStoppedByDockerStop)
	t.Run("a task waits for the task image import", testTaskWaitsForImport)
	t.Run("without --privileged", testNoPrivileged)
}

// taskJSON is the part of terok task show --json the tests read.
type taskJSON struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	ExitCode  *int   `json:"exit_code"`
	Reason    string `json:"reason"`
	Waiting   string `json:"waiting"`
	Container string `json:"container"`
}

func showTask(t *testing.T, c *container, id string) taskJSON {
	t.Helper()
	var tj taskJSON
	out := c.mustExec(t, "podman", "terok", "task", "show", "--json", id)
	if err := json.Unmarshal([]byte(out), &tj); err != nil {
		t.Fatalf("terok task show --json: %v\n%s", err, out)
	}
	return tj
}

// hostOpts are a host-network container's options on free ports (the
// gate on every address: tasks reach it at host.containers.internal).
func hostOpts(t *testing.T, v volumes) []string {
	return append(v.opts(), "--network", "host",
		"-e", fmt.Sprintf("TEROK_GATE_BIND=0.0.0.0:%d", freePort(t)),
		"-e", fmt.Sprintf("TEROK_WEB_LISTEN=127.0.0.1:%d", freePort(t)))
}

// testStoppedByDockerStop: a sleep 300 task runs; docker stop stops it
// (podman-tasks, SIGTERM); after docker start, terok-web records it as
// stopped with the exit code Podman reports (not exited 0), and the
// timeline says why.
func testStoppedByDockerStop(t *testing.T) {
	v := newVolumes(t)
	c := startContainer(t, hostOpts(t, v))
	c.waitHealthy(t)
	waitFor(t, c, "the default task image", 3*time.Minute, func() (bool, string) {
		_, _, code := c.exec(t, "podman", "podman", "image", "exists", "localhost/terok-base:latest")
		return code == 0, e2ekit.Tail(c.logs(t), 5)
	})
	c.mustExec(t, "podman", "terok", "project", "add", "longrun", "--cmd", "echo started; sleep 300")
	id := strings.TrimSpace(c.mustExec(t, "podman", "terok", "task", "run", "longrun"))
	waitFor(t, c, "the task's first line", 2*time.Minute, func() (bool, string) {
		out, _, _ := c.exec(t, "podman", "terok", "task", "logs", id)
		return strings.Contains(out, "started"), out
	})
	if code := c.stop(t); code != 0 {
		t.Fatalf("docker stop: exit %d, want 0", code)
	}
	if l := c.logs(t); !strings.Contains(l, "podman-tasks | stopping 1 task container(s)") {
		t.Fatalf("podman-tasks did not stop the task:\n%s", grepLines(l, "podman-tasks"))
	}
	mustDocker(t, "start", c.name)
	c.waitHealthy(t)
	var tj taskJSON
	waitFor(t, c, "the task recorded after the restart", 2*time.Minute, func() (bool, string) {
		tj = showTask(t, c, id)
		return tj.State != "running", fmt.Sprintf("%+v", tj)
	})
	real := strings.TrimSpace(c.mustExec(t, "podman", "podman", "inspect", "-f", "{{.State.ExitCode}}", tj.Container))
	if tj.State != "stopped" || tj.ExitCode == nil || fmt.Sprint(*tj.ExitCode) != real || (real != "143" && real != "137") {
		t.Fatalf("terok task show: %s with exit %v; Podman reports exit %s; want stopped with Podman's 143 (SIGTERM) or 137", tj.State, tj.ExitCode, real)
	}
	timeline := c.mustExec(t, "podman", "terok", "task", "timeline", id)
	if !strings.Contains(timeline, "stopped (exit "+real+"): stopped by docker stop (podman-tasks)") {
		t.Fatalf("the timeline does not say the tree's shutdown stopped it:\n%s", timeline)
	}
	if code := c.stop(t); code != 0 {
		t.Fatalf("docker stop: exit %d, want 0", code)
	}
}

// testTaskWaitsForImport: the import of the shipped task image is held
// (TEROK_TEST_HOLD_IMPORT, a switch for tests only); a task started then
// waits, saying so in its record, timeline and on the CLI, and runs once
// the import is let go.
func testTaskWaitsForImport(t *testing.T) {
	v := newVolumes(t)
	hold := "/tmp/terok-e2e-import-go"
	c := startContainer(t, append(hostOpts(t, v), "-e", "TEROK_TEST_HOLD_IMPORT="+hold))
	waitFor(t, c, "the held import", 2*time.Minute, func() (bool, string) {
		l := c.logs(t)
		return strings.Contains(l, "podman-tasks | TEROK_TEST_HOLD_IMPORT"), e2ekit.Tail(l, 10)
	})
	c.waitHealthy(t)
	c.mustExec(t, "podman", "terok", "project", "add", "early", "--cmd", "echo early-task-ran")
	// terok task run returns once the task started: run it aside.
	type result struct {
		out, errs string
		code      int
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, errs, code := testkit.Run(exec.CommandContext(ctx, "docker", "exec", "-u", "podman", c.name, "terok", "task", "run", "early"))
		done <- result{out, errs, code}
	}()
	var id string
	waitFor(t, c, "the task waiting for its image", 2*time.Minute, func() (bool, string) {
		out, _, _ := c.exec(t, "podman", "terok", "task", "list", "--json")
		var ts []taskJSON
		json.Unmarshal([]byte(out), &ts)
		for _, x := range ts {
			if x.State == "starting" && strings.Contains(x.Waiting, "waiting for the task image localhost/terok-base:latest: podman-tasks imports it") {
				id = x.ID
				return true, ""
			}
		}
		return false, out
	})
	if tl := c.mustExec(t, "podman", "terok", "task", "timeline", id); !strings.Contains(tl, "waiting for the task image") {
		t.Fatalf("the timeline does not show the wait:\n%s", tl)
	}
	if show := c.mustExec(t, "podman", "terok", "task", "show", id); !strings.Contains(show, "waiting:") {
		t.Fatalf("terok task show does not show the wait:\n%s", show)
	}
	select {
	case r := <-done:
		t.Fatalf("terok task run returned while the import was held: exit %d\n%s%s", r.code, r.out, r.errs)
	default:
	}
	c.mustExec(t, "", "touch", hold)
	var r result
	select {
	case r = <-done:
	case <-time.After(4 * time.Minute):
		t.Fatal("terok task run did not return after the import was let go")
	}
	if r.code != 0 || strings.TrimSpace(r.out) != id || !strings.Contains(r.errs, "waiting for the task image") {
		t.Fatalf("terok task run: exit %d, stdout %q (want the id %s), stderr %q (want the wait)", r.code, r.out, id, r.errs)
	}
	if out, errs, code := c.exec(t, "podman", "terok", "task", "wait", id); code != 0 {
		t.Fatalf("the task that waited: exit %d\n%s%s", code, out, errs)
	}
	if logs := c.mustExec(t, "podman", "terok", "task", "logs", id); !strings.Contains(logs, "early-task-ran") {
		t.Fatalf("the task's output:\n%s", logs)
	}
	for _, bad := range []string{"make task-image", "image missing"} {
		if tl := c.mustExec(t, "podman", "terok", "task", "timeline", id); strings.Contains(tl, bad) {
			t.Fatalf("the timeline says %q:\n%s", bad, tl)
		}
	}
	if code := c.stop(t); code != 0 {
		t.Fatalf("docker stop: exit %d, want 0", code)
	}
}

// testNoPrivileged: the image run without --privileged (nor the fallback
// options) cannot create user namespaces. The entrypoint warns below its
// banner, podman-service logs an error and answers degraded with the
// docker run flags that fix it, and terok health, terok daemons status
// (the API's daemon list) and the image's health check show it.
func testNoPrivileged(t *testing.T) {
	c := &container{name: namePrefix + randHex(4)}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- docker logs %s ---\n%s", c.name, e2ekit.Tail(c.logs(t), 80))
		}
		docker(t, "rm", "-f", c.name)
	})
	mustDocker(t, append([]string{"run", "-d", "--name", c.name}, append(hostOpts(t, newVolumes(t)), image)...)...)
	const cause = "user namespaces cannot be created in this container"
	waitFor(t, c, "podman-service's error line", 2*time.Minute, func() (bool, string) {
		l := c.logs(t)
		return strings.Contains(l, "podman-service | ") && strings.Contains(grepLines(l, "podman-service | "), cause), e2ekit.Tail(l, 20)
	})
	logs := c.logs(t)
	if w := grepLines(logs, "terok-entrypoint: WARNING: "); !strings.Contains(w, cause) || !strings.Contains(w, "docker run --privileged") {
		t.Errorf("the entrypoint's warning below the banner is missing or lacks the fix:\n%s", e2ekit.Tail(logs, 40))
	}
	if l := grepLines(logs, "podman-service | "); !strings.Contains(l, `"level":"error"`) || !strings.Contains(l, "--privileged") {
		t.Errorf("podman-service's line is not an error naming the fix:\n%s", l)
	}
	// terok health: podman-service degraded with the problem (it
	// answers); the exit code is not 0.
	waitFor(t, c, "terok health naming the cause", time.Minute, func() (bool, string) {
		out, errs, code := c.exec(t, "podman", "terok", "health")
		return code != 0 && strings.Contains(out, "podman-service is degraded: "+cause) && strings.Contains(out, "docker run --privileged"), fmt.Sprintf("exit %d\n%s%s", code, out, errs)
	})
	// The API's daemon list (the overview's problem box reads it), once
	// the supervisor counts podman-service as running.
	waitFor(t, c, "podman-service's problem in the API's daemon list", time.Minute, func() (bool, string) {
		var ds []struct{ Name, State, Problem string }
		out, errs, _ := c.exec(t, "podman", "terok", "daemons", "status", "--json")
		if err := json.Unmarshal([]byte(out), &ds); err != nil {
			return false, out + errs
		}
		for _, d := range ds {
			if d.Name == "podman-service" {
				return d.State == "RUNNING" && strings.Contains(d.Problem, cause) && strings.Contains(d.Problem, "--security-opt seccomp=unconfined"), out
			}
		}
		return false, out
	})
	if out := c.mustExec(t, "podman", "terok", "daemons", "status"); !strings.Contains(out, "podman-service runs but cannot do its job: "+cause) {
		t.Errorf("terok daemons status does not say it:\n%s", out)
	}
	// The image's health check fails naming it.
	hc, errs, code := c.exec(t, "", "/usr/local/lib/terok/healthcheck")
	if code == 0 || !strings.Contains(hc, cause) {
		t.Errorf("health check: exit %d, want non-zero naming the cause:\n%s%s", code, hc, errs)
	}
}
