package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

// TestProjectBuild: terok project build prints the build's stream as it
// comes (layers, steps with their output and durations, the result) and
// exits 0; a build that fails exits 1 with the failing step's message; the
// mode flags reach the API and --refresh-agents with --full is a usage
// error.
func TestProjectBuild(t *testing.T) {
	dir := terokBin(t)
	var modes []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		modes = append(modes, r.URL.Query().Get("mode"))
		w.Header().Set("Content-Type", "application/x-ndjson")
		lines := []string{
			`{"kind":"reused","project":"demo","layer":"base","ref":"localhost/terok-base:latest"}`,
			`{"kind":"layer","project":"demo","layer":"project","ref":"localhost/terok-project-demo:0123"}`,
			`{"kind":"step","project":"demo","layer":"project","step":2,"steps":3,"text":"RUN make"}`,
			`{"kind":"output","project":"demo","layer":"project","step":2,"line":"compiling"}`,
			`{"kind":"step-done","project":"demo","layer":"project","step":2,"steps":3,"seconds":1.25,"cached":true}`,
		}
		if r.URL.Path == "/api/v1/projects/bad/build" {
			lines = append(lines, `{"kind":"error","project":"bad","error":"build bad: the project layer failed at step 2/3 (RUN make): exit status 2"}`)
		} else {
			lines = append(lines, `{"kind":"done","project":"demo","result":{"image":"localhost/terok-project-demo:latest","image_id":"abcdef0123456789","layers":[],"versions":{"claude":"2.1.337"}}}`)
		}
		w.Write([]byte(strings.Join(lines, "\n") + "\n"))
	}))
	defer srv.Close()
	run := func(args ...string) (string, string, int) {
		cmd := exec.Command(filepath.Join(dir, "terok"), append([]string{"--url", srv.URL, "--token", "0123456789abcdef-token"}, args...)...)
		cmd.Env = append(os.Environ(), "TEROK_RUN_DIR="+t.TempDir())
		return testkit.Run(cmd)
	}
	stdout, stderr, code := run("project", "build", "demo", "--refresh-agents")
	want := []string{"base     reused localhost/terok-base:latest", "project  building localhost/terok-project-demo:0123",
		"project  STEP 2/3: RUN make", "           compiling", "project  step 2/3 done in 1.2s (cached)",
		"built localhost/terok-project-demo:latest (image abcdef012345) with claude@2.1.337"}
	if code != 0 || strings.TrimSpace(stdout) != strings.Join(want, "\n") {
		t.Fatalf("exit %d\n%s\nwant\n%s\nstderr %s", code, stdout, strings.Join(want, "\n"), stderr)
	}
	if _, stderr, code = run("project", "build", "bad", "--full"); code != 1 || !strings.Contains(stderr, "failed at step 2/3 (RUN make)") {
		t.Fatalf("failed build: exit %d %s", code, stderr)
	}
	if strings.Join(modes, ",") != "refresh-agents,full" {
		t.Fatalf("modes %v", modes)
	}
	if _, stderr, code = run("project", "build", "demo", "--refresh-agents", "--full"); code != 2 || !strings.Contains(stderr, "give one") {
		t.Fatalf("both flags: exit %d %s", code, stderr)
	}
}
