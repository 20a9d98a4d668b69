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
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/auth"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// terokBin builds terok into a directory of its own named "terok", so
// completion scripts find it on PATH.
func terokBin(t *testing.T) string {
	t.Helper()
	bin := testkit.Build(t, ".")
	dir := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(dir, "terok")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestBashCompletion(t *testing.T) {
	bash := testkit.RequireCommand(t, "bash")
	dir := terokBin(t)
	for _, tc := range []struct{ words, want string }{
		{"terok ta", "task"},
		{"terok task w", "wait"},
		{"terok shield a", "allow audit"},
	} {
		words := strings.Fields(tc.words)
		script := `source <(terok completion bash); COMP_WORDS=(` + tc.words + `); COMP_CWORD=` + itoa(len(words)-1) + `; _terok_complete; echo "${COMPREPLY[@]}"`
		cmd := exec.Command(bash, "-c", script)
		cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "TEROK_RUN_DIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != tc.want {
			t.Errorf("complete %q = %q (%v), want %q", tc.words, out, err, tc.want)
		}
	}
}

func TestCompletionScripts(t *testing.T) {
	dir := terokBin(t)
	for sh, want := range map[string]string{"bash": "complete -o bashdefault", "zsh": "#compdef terok", "fish": "complete -c terok"} {
		stdout, stderr, code := testkit.Run(exec.Command(filepath.Join(dir, "terok"), "completion", sh))
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("completion %s: exit %d, %q missing\n%s", sh, code, want, stderr)
		}
	}
	_, stderr, code := testkit.Run(exec.Command(filepath.Join(dir, "terok"), "completion", "tcsh"))
	if code != 2 || !strings.Contains(stderr, "use bash, zsh or fish") {
		t.Errorf("unknown shell: exit %d %q", code, stderr)
	}
}

// TestUnreachable: with no terok-web, commands exit 3 and name the socket.
func TestUnreachable(t *testing.T) {
	dir := terokBin(t)
	run := t.TempDir()
	cmd := exec.Command(filepath.Join(dir, "terok"), "task", "list")
	cmd.Env = append(os.Environ(), "TEROK_RUN_DIR="+run)
	_, stderr, code := testkit.Run(cmd)
	if code != 3 || !strings.Contains(stderr, filepath.Join(run, "web.sock")) {
		t.Fatalf("exit %d, want 3 naming the socket: %s", code, stderr)
	}
	cmd = exec.Command(filepath.Join(dir, "terok"), "task", "wait")
	cmd.Env = append(os.Environ(), "TEROK_RUN_DIR="+run)
	if _, stderr, code := testkit.Run(cmd); code != 2 || !strings.Contains(stderr, "missing argument") {
		t.Fatalf("no id: exit %d %s", code, stderr)
	}
}

func itoa(n int) string { return string(rune('0' + n)) }

// TestWrongToken: terok with --url and a token that is not terok-web's
// says the token is wrong (exit 1), not that one is needed.
func TestWrongToken(t *testing.T) {
	dir := terokBin(t)
	srv := httptest.NewServer((&auth.Auth{Methods: []auth.Method{auth.Bearer("0123456789abcdef-right", nil)}}).Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("[]"))
	})))
	defer srv.Close()
	run := func(token string) (string, int) {
		cmd := exec.Command(filepath.Join(dir, "terok"), "task", "list", "--url", srv.URL, "--token", token)
		cmd.Env = append(os.Environ(), "TEROK_RUN_DIR="+t.TempDir())
		_, stderr, code := testkit.Run(cmd)
		return stderr, code
	}
	if stderr, code := run("0123456789abcdef-wrong"); code != 1 || !strings.Contains(stderr, "that token is wrong") || strings.Contains(stderr, "needs the access token") {
		t.Errorf("wrong token: exit %d %q", code, stderr)
	}
	if stderr, code := run(""); code != 1 || !strings.Contains(stderr, "needs the access token") {
		t.Errorf("no token: exit %d %q", code, stderr)
	}
	if stderr, code := run("0123456789abcdef-right"); code != 0 {
		t.Errorf("right token: exit %d %q", code, stderr)
	}
}
