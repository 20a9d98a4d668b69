package docker

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDockerBannerCommands: the banner's shell and status lines are
// commands that work as printed, naming the container by its id, also
// with --network host (where the hostname is the host's); the login page
// says docker logs with that id and names the token's real file
// (issue 17, defect 5).
func TestDockerBannerCommands(t *testing.T) {
	buildImage(t)
	v := newVolumes(t)
	web := freePort(t)
	c := startContainer(t, append(v.opts(), "--network", "host",
		"-e", fmt.Sprintf("TEROK_GATE_BIND=0.0.0.0:%d", freePort(t)),
		"-e", fmt.Sprintf("TEROK_WEB_LISTEN=127.0.0.1:%d", web)))
	c.waitHealthy(t)
	id := strings.TrimSpace(mustDocker(t, "inspect", "-f", "{{.Id}}", c.name))
	logs := c.logs(t)
	status := grepLine(logs, "status:")
	const statusPrefix = "status:            docker exec "
	if !strings.HasPrefix(status, statusPrefix) || strings.Contains(status, "<") {
		t.Fatalf("the banner's status line is not a command:\n%s", grepLines(logs, "  "))
	}
	args := strings.Fields(strings.TrimPrefix(status, "status:            docker "))
	if len(args) < 2 || !strings.HasPrefix(id, args[1]) || len(args[1]) < 12 {
		t.Fatalf("the status line names %v, not this container (%s)", args, id)
	}
	// Run as printed until it shows terok-web running (bounded).
	waitFor(t, c, "the status command as printed showing terok-web RUNNING", 2*time.Minute, func() (bool, string) {
		out, errs, code := docker(t, args...)
		return code == 0 && statusOf(out)["terok-web"] == "RUNNING", out + errs
	})
	shell := grepLine(logs, "shell:")
	want := "shell:             docker exec -it -u podman " + args[1] + " bash"
	if shell != want {
		t.Errorf("the banner's shell line is %q, want %q", shell, want)
	}
	// The shell command, as printed but without a terminal (-it needs one
	// here), runs as podman.
	if out := mustDocker(t, "exec", "-u", "podman", args[1], "bash", "-c", "id -un"); strings.TrimSpace(out) != "podman" {
		t.Errorf("the shell runs as %q, want podman", out)
	}

	var page string
	waitFor(t, c, "the login page", time.Minute, func() (bool, string) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/login", web))
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		page = string(b)
		return resp.StatusCode == 200, page
	})
	for _, w := range []string{"<code>docker logs " + args[1] + "</code>", "<code>/home/podman/.local/share/terok/web/token</code>"} {
		if !strings.Contains(page, w) {
			t.Errorf("the login page lacks %q:\n%s", w, page)
		}
	}
	if strings.Contains(page, "terok web url") || strings.Contains(page, "access-token") {
		t.Errorf("the login page in the image points to terok web url or web/access-token:\n%s", page)
	}
}
