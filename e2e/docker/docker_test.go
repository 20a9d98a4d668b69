package docker

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/e2e/e2ekit"
)

// daemons are the four daemons every default container runs.
var daemons = []string{"terok-shield", "podman-service", "terok-gate", "terok-vault", "terok-web"}

// TestDocker builds the image as `make image` does and runs it three times
// on the same volumes: host network with a task behind the shield and a
// task whose key the vault's broker injects on its way to a fake provider,
// again with a mounted override file and override variables, then in
// bridge mode.
func TestDocker(t *testing.T) {
	buildImage(t)

	t.Run("malformed override variable stops the start", func(t *testing.T) {
		c := startContainer(t, []string{"-e", "TEROK_SUPERVISOR__TEROK_GATE__AUTOSTRAT=false"})
		code := strings.TrimSpace(mustDocker(t, "wait", c.name))
		logs := c.logs(t)
		if code != "2" {
			t.Fatalf("exit %s, want 2\n%s", code, logs)
		}
		if !strings.Contains(logs, "TEROK_SUPERVISOR__TEROK_GATE__AUTOSTRAT") || !strings.Contains(logs, "not a program key") {
			t.Fatalf("the refusal does not name the variable and the reason:\n%s", logs)
		}
		if strings.Contains(logs, "spawned") || strings.Contains(logs, "terok-in-docker ") {
			t.Fatalf("something started despite the malformed variable:\n%s", logs)
		}
	})
	t.Run("arguments run as podman", func(t *testing.T) {
		out := mustDocker(t, "run", "--rm", image, "sh", "-c", "id -un; echo $HOME; podman --version")
		if !strings.HasPrefix(out, "podman\n/home/podman\npodman version 5.") {
			t.Fatalf("docker run IMAGE sh -c ...: want the user podman with its home and Podman 5:\n%s", out)
		}
	})

	t.Run("docker stop during the first task image import", func(t *testing.T) {
		v := newVolumes(t)
		c := startContainer(t, append(v.opts(), "--network", "host", "-e", fmt.Sprintf("TEROK_GATE_BIND=127.0.0.1:%d", freePort(t)),
			"-e", fmt.Sprintf("TEROK_WEB_LISTEN=127.0.0.1:%d", freePort(t)), "-e", fmt.Sprintf("TEROK_VAULT_BIND=127.0.0.1:%d", freePort(t))))
		waitFor(t, c, "the task image import", 2*time.Minute, func() (bool, string) {
			l := c.logs(t)
			return strings.Contains(l, "podman-tasks | importing"), e2ekit.Tail(l, 10)
		})
		if code := c.stop(t); code != 0 {
			t.Fatalf("docker stop during the import: exit %d, want 0", code)
		}
		if l := c.logs(t); !strings.Contains(l, "podman-tasks | stopped before") && !strings.Contains(l, "podman-tasks | imported") {
			t.Errorf("podman-tasks said nothing about the interrupted import:\n%s", grepLines(l, "podman-tasks"))
		}
	})

	vols := newVolumes(t)
	gatePort, webPort, httpPort, vaultPort := freePort(t), freePort(t), freePort(t), freePort(t)
	ca, caFile := testCA(t)
	var adminToken, webToken, taskID string

	t.Run("host network", func(t *testing.T) {
		opts := append(vols.opts(), "--network", "host",
			"-e", fmt.Sprintf("TEROK_GATE_BIND=0.0.0.0:%d", gatePort),
			"-e", fmt.Sprintf("TEROK_WEB_LISTEN=0.0.0.0:%d", webPort),
			"-e", fmt.Sprintf("TEROK_VAULT_BIND=0.0.0.0:%d", vaultPort),
			// the vault trusts the test's CA: a fake provider on the loopback
			"-v", caFile+":"+imageCAPath+":ro", "-e", "TEROK_VAULT_TEST_CA_FILE="+imageCAPath,
			// a program added from the environment: a plain web server the
			// shield must keep tasks from reaching
			"-e", fmt.Sprintf("TEROK_SUPERVISOR__E2E_HTTPD__COMMAND=busybox httpd -f -p %d -h /usr/share/terok/task-image", httpPort),
			"-e", "TEROK_SUPERVISOR__E2E_HTTPD__USER=podman")
		c := startContainer(t, opts)
		c.waitHealthy(t)
		c.waitPrograms(t, map[string]string{"terok-shield": "RUNNING", "podman-service": "RUNNING", "terok-gate": "RUNNING",
			"terok-vault": "RUNNING", "terok-web": "RUNNING", "podman-tasks": "RUNNING", "e2e-httpd": "RUNNING"})
		logs := c.logs(t)
		adminToken = bannerValue(t, logs, "gate admin token:")
		webToken = bannerValue(t, logs, "web token:")

		t.Run("supervisorctl status as root and as podman", func(t *testing.T) {
			for _, u := range []string{"", "podman"} {
				out := c.mustExec(t, u, "supervisorctl", "status")
				st := statusOf(out)
				for _, d := range daemons {
					if st[d] != "RUNNING" {
						t.Errorf("as %q: %s is %q:\n%s", u, d, st[d], out)
					}
				}
			}
		})
		t.Run("docker logs: banner and prefixed daemon lines", func(t *testing.T) {
			for _, want := range []string{"terok-in-docker ", "web UI:", "clone a project:", "terok-gate | ", "terok-shield | ",
				"podman-service | ", "terok-web | ", "TEROK_SUPERVISOR__E2E_HTTPD__COMMAND sets command of [program:e2e-httpd]"} {
				if !strings.Contains(logs, want) {
					t.Errorf("docker logs lacks %q", want)
				}
			}
		})
		t.Run("supervisorctl tail and tail -f", func(t *testing.T) {
			out := c.mustExec(t, "podman", "supervisorctl", "tail", "terok-gate")
			if !strings.Contains(out, "terok-gate serving") {
				t.Fatalf("tail terok-gate lacks the start line:\n%s", out)
			}
			testTailFollow(t, c)
		})
		t.Run("log files", func(t *testing.T) {
			out := c.mustExec(t, "", "ls", "/var/log/terok")
			for _, f := range []string{"supervisord.log", "terok-gate.log", "terok-shield.log", "podman-service.log", "terok-web.log"} {
				if !strings.Contains(out, f) {
					t.Errorf("/var/log/terok lacks %s:\n%s", f, out)
				}
			}
		})
		t.Run("tools work as podman without flags", func(t *testing.T) {
			c.mustExec(t, "podman", "terok", "health")
			if out := c.mustExec(t, "podman", "podman", "info", "--format", "{{.Host.Security.Rootless}}"); strings.TrimSpace(out) != "true" {
				t.Errorf("podman info: rootless = %q", out)
			}
			c.mustExec(t, "podman", "terok-gate", "repo", "list")
			// the same from a login shell, as `docker exec -it -u podman terok bash` gives
			c.mustExec(t, "podman", "bash", "-lc", "terok health && supervisorctl status terok-gate && podman ps && terok-gate repo list")
		})
		t.Run("gate from the host", func(t *testing.T) {
			c.mustExec(t, "podman", "terok-gate", "repo", "create", "demo")
			work := t.TempDir()
			e2ekit.Git(t, work, "clone", "-q", fmt.Sprintf("http://%s@127.0.0.1:%d/demo.git", adminToken, gatePort), "w")
			w := filepath.Join(work, "w")
			os.WriteFile(filepath.Join(w, "README"), []byte("hello\n"), 0o644)
			e2ekit.Git(t, w, "add", "README")
			e2ekit.Git(t, w, "commit", "-qm", "first")
			e2ekit.Git(t, w, "push", "-q", "origin", "HEAD")
			cmd := exec.Command("git", "ls-remote", fmt.Sprintf("http://wrong-token-0123456789@127.0.0.1:%d/demo.git", gatePort))
			cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
			if out, err := cmd.CombinedOutput(); err == nil {
				t.Fatalf("the gate let a wrong token in:\n%s", out)
			}
		})
		t.Run("vault", func(t *testing.T) { testImageVault(t, c, logs) })
		t.Run("task behind the shield", func(t *testing.T) { testShieldedTask(t, c, gatePort, httpPort) })
		t.Run("web API", func(t *testing.T) { testWebAPI(t, c, webPort, webToken) })
		t.Run("project and task from the CLI", func(t *testing.T) { taskID = testProjectTask(t, c, adminToken, gatePort, httpPort) })
		t.Run("credentials through the broker", func(t *testing.T) { testImageCredentials(t, c, ca, vaultPort) })

		// A task still running at docker stop gets SIGTERM (it exits 0 on it).
		c.mustExec(t, "podman", "podman", "run", "-d", "--name", "image-e2e-long", "localhost/terok-base:latest",
			"sh", "-c", `trap "exit 0" TERM; sleep 1000 & wait`)
		if code := c.stop(t); code != 0 {
			t.Fatalf("docker stop: the container exited %d, want 0 (everything stopped within the grace time)", code)
		}
		logs = c.logs(t)
		if !strings.Contains(logs, "all programs stopped") {
			t.Errorf("the supervisor did not report a clean stop:\n%s", e2ekit.Tail(logs, 30))
		}
		if !strings.Contains(logs, "podman-tasks | stopping 1 task container(s)") {
			t.Errorf("podman-tasks did not stop the running task:\n%s", grepLines(logs, "podman-tasks"))
		}
	})
	if t.Failed() {
		return
	}

	t.Run("restart with overrides keeps the state", func(t *testing.T) {
		override := filepath.Join(vols.dir, "50-e2e.conf")
		os.WriteFile(override, []byte(`; mounted by the e2e test
[program:terok-gate]
command = /usr/local/bin/terok-gate serve --poll-interval 1m

[program:e2e-file]
command = /bin/sh -c 'echo "e2e-file says ${E2E_WORD:-from-file}"; exec sleep 1000'
user = podman
`), 0o644)
		opts := append(vols.opts(), "--network", "host",
			"-v", override+":/etc/terok/supervisor.d/50-e2e.conf:ro",
			"-e", fmt.Sprintf("TEROK_GATE_BIND=0.0.0.0:%d", gatePort),
			"-e", fmt.Sprintf("TEROK_WEB_LISTEN=0.0.0.0:%d", webPort),
			"-e", fmt.Sprintf("TEROK_VAULT_BIND=0.0.0.0:%d", freePort(t)),
			"-e", "TEROK_SUPERVISOR__E2E_FILE__ENVIRONMENT=E2E_WORD=from-env",
			"-e", "TEROK_SUPERVISOR__TEROK_SHIELD__AUTOSTART=false")
		c := startContainer(t, opts)
		c.waitPrograms(t, map[string]string{"terok-shield": "STOPPED", "podman-service": "RUNNING", "terok-gate": "RUNNING",
			"terok-web": "RUNNING", "podman-tasks": "RUNNING", "e2e-file": "RUNNING"})
		// the shield switched off on purpose does not make the container unhealthy
		c.waitHealthy(t)
		waitFor(t, c, "the e2e-file program's line in docker logs", time.Minute, func() (bool, string) {
			l := c.logs(t)
			return strings.Contains(l, "e2e-file | e2e-file says from-env"), e2ekit.Tail(l, 20)
		})
		logs := c.logs(t)
		if !strings.Contains(logs, `"poll_interval":60000`) {
			t.Errorf("the mounted file did not change the gate's flags (want poll_interval 60000 ms):\n%s", grepLines(logs, "terok-gate serving"))
		}
		if got := bannerValue(t, logs, "gate admin token:"); got != adminToken {
			t.Errorf("admin token changed across containers: %q, was %q", got, adminToken)
		}
		if got := bannerValue(t, logs, "web token:"); got != webToken {
			t.Errorf("web token changed across containers: %q, was %q", got, webToken)
		}
		work := t.TempDir()
		// the shielded task pushed its own branch (agent/e2e-task)
		e2ekit.Git(t, work, "clone", "-q", "-b", "agent/e2e-task", fmt.Sprintf("http://%s@127.0.0.1:%d/demo.git", adminToken, gatePort), "w")
		for _, f := range []string{"README", "task.txt"} {
			if _, err := os.Stat(filepath.Join(work, "w", f)); err != nil {
				t.Errorf("the gate repository lost %s across containers", f)
			}
		}
		c.mustExec(t, "podman", "podman", "image", "exists", "localhost/terok-base:latest")
		// The vault's key and store survive: the secret set before is there.
		waitFor(t, c, "the vault after a new container", time.Minute, func() (bool, string) {
			out, errs, code := c.exec(t, "podman", "terok-vault", "secret", "list")
			return code == 0 && strings.Contains(out, "anthropic"), out + errs
		})
		// The task that ran at the last docker stop ended on its SIGTERM.
		if out := c.mustExec(t, "podman", "podman", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "image-e2e-long"); strings.TrimSpace(out) != "exited 0" {
			t.Errorf("the task running at docker stop: %q, want \"exited 0\" (stopped by SIGTERM, not killed)", strings.TrimSpace(out))
		}
		if strings.Contains(logs, "podman-tasks | importing") {
			t.Errorf("the task image was imported again although the containers volume kept it")
		}
		if out := c.mustExec(t, "podman", "terok", "project", "list"); !strings.Contains(out, "e2eproj") {
			t.Errorf("the project is gone after a new container on the same volumes:\n%s", out)
		}
		if taskID == "" {
			t.Error("the first container's task flow left no task id to look for")
		} else if out := c.mustExec(t, "podman", "terok", "task", "list"); !strings.Contains(out, taskID) {
			t.Errorf("task %s is gone after a new container on the same volumes:\n%s", taskID, out)
		}
		// docker restart: the same container filesystem, stale runtime state
		mustDocker(t, "restart", c.name)
		c.waitPrograms(t, map[string]string{"podman-service": "RUNNING", "terok-gate": "RUNNING", "terok-web": "RUNNING", "e2e-file": "RUNNING"})
		waitFor(t, c, "Podman's API after docker restart", time.Minute, func() (bool, string) {
			out, errs, code := c.exec(t, "podman", "podman", "--url", "unix:///run/terok/podman.sock", "version")
			return code == 0, out + errs
		})
		c.mustExec(t, "podman", "podman", "run", "--rm", "localhost/terok-base:latest", "true")
		if code := c.stop(t); code != 0 {
			t.Fatalf("docker stop: exit %d, want 0", code)
		}
	})

	t.Run("bridge network", func(t *testing.T) {
		hostGate, hostWeb := freePort(t), freePort(t)
		// Tokens fixed from the environment win over the stored ones.
		fixedAdmin, fixedWeb := "e2e-admin-"+randHex(8), "e2e-web-"+randHex(8)
		opts := append(vols.opts(),
			"-p", fmt.Sprintf("127.0.0.1:%d:9418", hostGate),
			"-p", fmt.Sprintf("127.0.0.1:%d:8566", hostWeb),
			// The seed's task web ports, on a loopback address of their own:
			// make test runs the e2e package (native trees and nginx on
			// 127.0.0.1/127.0.0.2:7860-7880) at the same time.
			"-p", taskPortsHost+":7860-7880:7860-7880",
			"-e", "TEROK_GATE_ADMIN_TOKEN="+fixedAdmin, "-e", "TEROK_WEB_TOKEN="+fixedWeb,
			"-e", "TEROK_PUBLIC_URL=https://terok.example.org")
		c := startContainer(t, opts)
		c.waitHealthy(t)
		out := e2ekit.Git(t, t.TempDir(), "ls-remote", fmt.Sprintf("http://%s@127.0.0.1:%d/demo.git", fixedAdmin, hostGate))
		if !strings.Contains(out, "refs/heads/") {
			t.Fatalf("ls-remote through the mapped gate port lists no branch:\n%s", out)
		}
		cmd := exec.Command("git", "ls-remote", fmt.Sprintf("http://%s@127.0.0.1:%d/demo.git", adminToken, hostGate))
		cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("the stored admin token still works although TEROK_GATE_ADMIN_TOKEN replaced it:\n%s", out)
		}
		logs := c.logs(t)
		for _, want := range []string{"web UI:            https://terok.example.org/?token=<TEROK_WEB_TOKEN>",
			"(set by TEROK_GATE_ADMIN_TOKEN)", "(set by TEROK_WEB_TOKEN)"} {
			if !strings.Contains(logs, want) {
				t.Errorf("banner lacks %q:\n%s", want, grepLines(logs, "  "))
			}
		}
		for _, secret := range []string{fixedAdmin, fixedWeb} {
			if strings.Contains(logs, secret) {
				t.Errorf("docker logs shows a token given in the environment")
			}
		}
		t.Run("web API", func(t *testing.T) { testWebAPI(t, c, hostWeb, fixedWeb) })
		t.Run("web task through the published port", func(t *testing.T) { testBridgeWebTask(t, c) })
		// Docker's own view through the image's HEALTHCHECK (every 5 s)
		waitFor(t, c, "docker inspect: healthy", 2*time.Minute, func() (bool, string) {
			out, _, _ := docker(t, "inspect", "-f", "{{.State.Health.Status}}", c.name)
			return strings.TrimSpace(out) == "healthy", out
		})
		// A daemon that runs but does not answer makes it unhealthy.
		c.mustExec(t, "", "supervisorctl", "signal", "STOP", "terok-gate")
		out, errs, code := c.exec(t, "", "/usr/local/lib/terok/healthcheck")
		c.mustExec(t, "", "supervisorctl", "signal", "CONT", "terok-gate")
		if code == 0 || !strings.Contains(out, "gate does not answer") {
			t.Errorf("health check with a frozen gate: exit %d, want non-zero naming the gate:\n%s%s", code, out, errs)
		}
		if code := c.stop(t); code != 0 {
			t.Fatalf("docker stop: exit %d, want 0", code)
		}
	})
}

var bannerRE = map[string]*regexp.Regexp{}

// bannerValue returns the token printed after label in the banner.
func bannerValue(t *testing.T, logs, label string) string {
	t.Helper()
	re, ok := bannerRE[label]
	if !ok {
		re = regexp.MustCompile(regexp.QuoteMeta(label) + `\s+(\S+)`)
		bannerRE[label] = re
	}
	m := re.FindStringSubmatch(logs)
	if m == nil {
		t.Fatalf("no %q in the banner:\n%s", label, e2ekit.Tail(logs, 40))
	}
	return m[1]
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// testTailFollow runs supervisorctl tail -f and waits for a line the gate
// writes after the follow started.
func testTailFollow(t *testing.T, c *container) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "exec", c.name, "supervisorctl", "tail", "-f", "terok-gate")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// The gate logs a repository it creates.
	marker := "tailf" + randHex(3)
	seenStart := false
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("supervisorctl tail -f ended")
			}
			if !seenStart && strings.Contains(l, "terok-gate") {
				seenStart = true
				c.mustExec(t, "podman", "terok-gate", "repo", "create", marker)
			}
			if strings.Contains(l, marker) {
				return
			}
		case <-ctx.Done():
			t.Fatalf("supervisorctl tail -f terok-gate did not show the new repository %s", marker)
		}
	}
}

// testShieldedTask runs a task the way terok-web does — a rootless Podman
// container of the default task image, armed by the shield's annotations,
// with a task token for the gate — and checks that it clones and pushes
// through the gate while the shield refuses another listener of the same
// host, which an unshielded container reaches.
func testShieldedTask(t *testing.T, c *container, gatePort, httpPort int) {
	waitFor(t, c, "the default task image", 3*time.Minute, func() (bool, string) {
		_, _, code := c.exec(t, "podman", "podman", "image", "exists", "localhost/terok-base:latest")
		return code == 0, c.mustExec(t, "", "tail", "-5", "/var/log/terok/podman-tasks.log")
	})
	tok := strings.TrimSpace(c.mustExec(t, "podman", "terok-gate", "token", "mint", "--project", "demo", "--task", "e2e-task"))
	probe := fmt.Sprintf("if curl -s -m 5 -o /dev/null http://host.containers.internal:%d/Containerfile; then echo PROBE-REACHED; else echo PROBE-REFUSED; fi", httpPort)
	script := fmt.Sprintf(`set -e
git clone -q http://%s@host.containers.internal:%d/demo.git /w
cd /w
git config user.email task@example.org; git config user.name task
echo from-task > task.txt
git add task.txt; git commit -qm task; git push -q origin HEAD:agent/e2e-task
echo PUSHED
%s`, tok, gatePort, probe)
	out, errs, code := c.exec(t, "podman", "podman", "run", "--name", "image-e2e-task",
		"--annotation", "terok.shield=on", "--annotation", "terok.project=demo",
		"localhost/terok-base:latest", "sh", "-c", script)
	if code != 0 || !strings.Contains(out, "PUSHED") {
		t.Fatalf("shielded task: exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, "PROBE-REFUSED") {
		t.Fatalf("the shield let the task reach a listener it was not given:\n%s", out)
	}
	// The same probe without the shield reaches it: the refusal above is the shield's.
	out, errs, code = c.exec(t, "podman", "podman", "run", "--rm", "localhost/terok-base:latest", "sh", "-c", probe)
	if code != 0 || !strings.Contains(out, "PROBE-REACHED") {
		t.Fatalf("an unshielded container does not reach the probe listener either (test broken?): exit %d\n%s%s", code, out, errs)
	}
	id := strings.TrimSpace(c.mustExec(t, "podman", "podman", "inspect", "-f", "{{.Id}}", "image-e2e-task"))
	audit := c.mustExec(t, "", "terok-shield", "audit", id)
	if !strings.Contains(audit, "armed") {
		t.Errorf("the shield's audit log does not show the task armed:\n%s", audit)
	}
	c.mustExec(t, "podman", "podman", "rm", "image-e2e-task")
}

// testWebAPI: terok-web answers on its TCP port (TEROK_WEB_LISTEN) only
// with the access token, as a bearer header.
func testWebAPI(t *testing.T, c *container, port int, token string) {
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	var resp *http.Response
	waitFor(t, c, "the web UI on "+base, time.Minute, func() (bool, string) {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
		if err != nil {
			return false, err.Error()
		}
		conn.Close()
		return true, ""
	})
	cl := &http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Get(base + "/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v1/health without the token: %d, want 401", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", base+"/v1/health", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v1/health with the token as a bearer header: %d, want 200", resp.StatusCode)
	}
}

// testProjectTask is the user's task flow through the terok CLI: a project
// added with `terok project add`, a headless task run by terok-web in nested
// rootless Podman behind the shield; the agent commits and pushes to the
// gate and probes a listener it was not given; the host clones the result.
func testProjectTask(t *testing.T, c *container, adminToken string, gatePort, httpPort int) string {
	agent := fmt.Sprintf(`echo from-agent > agent.txt; git add agent.txt; git commit -qm agent; git push -q origin HEAD; `+
		`if curl -s -m 5 -o /dev/null http://host.containers.internal:%d/Containerfile; then echo PROBE-REACHED; else echo PROBE-REFUSED; fi`, httpPort)
	c.mustExec(t, "podman", "terok", "project", "add", "e2eproj", "--cmd", agent)
	id := strings.TrimSpace(c.mustExec(t, "podman", "terok", "task", "run", "e2eproj", "--prompt", "hello"))
	if out, errs, code := c.exec(t, "podman", "terok", "task", "wait", id); code != 0 {
		logs, _, _ := c.exec(t, "podman", "terok", "task", "logs", id)
		t.Fatalf("terok task wait %s: exit %d\n%s%s\n--- task logs ---\n%s", id, code, out, errs, logs)
	}
	logs := c.mustExec(t, "podman", "terok", "task", "logs", id)
	if !strings.Contains(logs, "PROBE-REFUSED") {
		t.Errorf("the task reached a listener its shield was not given:\n%s", logs)
	}
	timeline := c.mustExec(t, "podman", "terok", "task", "timeline", id)
	if !strings.Contains(timeline, "armed") || !strings.Contains(timeline, "blocked") {
		t.Errorf("the task's timeline lacks the shield's armed and blocked events:\n%s", timeline)
	}
	work := t.TempDir()
	// the agent's plain push lands on its task's branch (terok-entry)
	e2ekit.Git(t, work, "clone", "-q", "-b", "agent/"+id, fmt.Sprintf("http://%s@127.0.0.1:%d/e2eproj.git", adminToken, gatePort), "p")
	if b, err := os.ReadFile(filepath.Join(work, "p", "agent.txt")); err != nil || string(b) != "from-agent\n" {
		t.Errorf("the host's clone lacks the agent's push: %q %v", b, err)
	}
	return id
}

// testImageVault: the vault runs as its own user with its directories in
// the volumes, root and podman can use it, and podman cannot read its
// store.
func testImageVault(t *testing.T, c *container, logs string) {
	if out := c.mustExec(t, "", "sh", "-c", "ps -o user= -p $(supervisorctl pid terok-vault)"); strings.TrimSpace(out) != "terok-vault" {
		t.Errorf("the vault runs as %q, want terok-vault", strings.TrimSpace(out))
	}
	out := c.mustExec(t, "", "stat", "-c", "%U %a", "/home/podman/.config/terok/system/vault", "/home/podman/.local/share/terok/system/vault")
	if strings.TrimSpace(out) != "terok-vault 700\nterok-vault 700" {
		t.Errorf("the vault's directories: %q, want terok-vault 700", out)
	}
	if out := c.mustExec(t, "", "sh", "-c", "echo sk-ant-e2e-image-key | terok-vault secret set anthropic"); !strings.Contains(out, "stored anthropic (global)") {
		t.Errorf("secret set as root: %q", out)
	}
	if out := c.mustExec(t, "podman", "terok-vault", "secret", "list"); !strings.Contains(out, "anthropic") || strings.Contains(out, "sk-ant-e2e-image-key") {
		t.Errorf("secret list as podman: %q", out)
	}
	if _, _, code := c.exec(t, "podman", "cat", "/home/podman/.local/share/terok/system/vault/secrets.json"); code == 0 {
		t.Error("podman can read the vault's store")
	}
	for _, want := range []string{"terok-vault | ", "the key is kept in the config volume"} {
		if !strings.Contains(logs, want) {
			t.Errorf("docker logs lack %q", want)
		}
	}
}

// taskPortsHost is where the bridge-mode test maps the task ports.
const taskPortsHost = "127.0.0.3"

// testBridgeWebTask: in bridge mode (no host network) a web task's UI
// answers through Docker's published port: terok-web itself listens on
// the task's port on every address of the container, and lets in the
// holder of a one-time link. Podman's own publish (pasta, on the
// container's loopback only) answered such a mapping with a connection
// reset.
func testBridgeWebTask(t *testing.T, c *container) {
	serve := `exec perl -MIO::Socket::INET -e '$s=IO::Socket::INET->new(LocalAddr=>"127.0.0.1",LocalPort=>8080,Listen=>5,ReuseAddr=>1) or die "listen: $!"; print "serving\n"; $|=1; while($c=$s->accept){ $p=<$c>; while(<$c>){last if /^\r?$/} print $c "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nserved-by-task $p"; close $c }'`
	c.mustExec(t, "podman", "terok", "project", "add", "bridgeweb", "--web-port", "8080", "--cmd", serve)
	out := c.mustExec(t, "podman", "terok", "task", "run", "bridgeweb", "--mode", "web", "--json")
	var task struct {
		ID      string `json:"id"`
		WebPort int    `json:"web_port"`
	}
	if err := json.Unmarshal([]byte(out), &task); err != nil || task.WebPort < 7860 || task.WebPort > 7880 {
		t.Fatalf("run --json: %v\n%s", err, out)
	}
	defer c.exec(t, "podman", "terok", "task", "rm", "--force", task.ID)
	waitFor(t, c, "the web task serving", 2*time.Minute, func() (bool, string) {
		l, _, _ := c.exec(t, "podman", "terok", "task", "logs", task.ID)
		return strings.Contains(l, "serving"), l
	})
	base := fmt.Sprintf("http://%s:%d", taskPortsHost, task.WebPort)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	// Without the link: terok-web's refusal through the published port.
	resp, err := hc.Get(base + "/hello")
	if err != nil {
		t.Fatalf("the published task port: %v (Docker's -p reaches nothing in the container)", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without the link: %d, want 401", resp.StatusCode)
	}
	link := strings.TrimSpace(c.mustExec(t, "podman", "terok", "task", "ui", task.ID))
	i := strings.Index(link, "?")
	if i < 0 {
		t.Fatalf("terok task ui printed %q", link)
	}
	var body string
	waitFor(t, c, "the task's UI through the published port", time.Minute, func() (bool, string) {
		resp, err := hc.Get(base + "/hello" + link[i:])
		if err != nil {
			return false, err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		if resp.StatusCode == http.StatusUnauthorized { // the link is used up: a new one
			l := strings.TrimSpace(c.mustExec(t, "podman", "terok", "task", "ui", task.ID))
			link = l
			i = strings.Index(link, "?")
		}
		return resp.StatusCode == http.StatusOK && strings.Contains(body, "served-by-task GET /hello"), resp.Status + " " + body
	})
	c.mustExec(t, "podman", "terok", "task", "stop", task.ID)
}
