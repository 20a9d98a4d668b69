package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/vault/vaultapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// fakeWeb is terok-web's secrets routes on web.sock in a run directory,
// recording what reached it.
type fakeWeb struct {
	run string
	mu  sync.Mutex
	got []string // "provider project value" per PUT
}

func newFakeWeb(t *testing.T) *fakeWeb {
	t.Helper()
	f := &fakeWeb{run: t.TempDir()}
	ln, err := net.Listen("unix", filepath.Join(f.run, "web.sock"))
	if err != nil {
		t.Fatal(err)
	}
	m := http.NewServeMux()
	m.HandleFunc("PUT /api/v1/secrets/{provider}", func(w http.ResponseWriter, r *http.Request) {
		var req webapi.SecretRequest
		json.NewDecoder(r.Body).Decode(&req)
		f.mu.Lock()
		f.got = append(f.got, r.PathValue("provider")+" "+r.URL.Query().Get("project")+" "+req.Value)
		f.mu.Unlock()
		json.NewEncoder(w).Encode(vaultapi.Secret{Provider: r.PathValue("provider"), Project: r.URL.Query().Get("project"), Kind: "api-key", Fingerprint: "1f5f5110"})
	})
	m.HandleFunc("GET /api/v1/secrets", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode([]vaultapi.Secret{{Provider: "anthropic", Project: "demo", Kind: "api-key", SetAt: time.Now(), Fingerprint: "9c02e4d7"}})
	})
	m.HandleFunc("POST /api/v1/secrets/{provider}/login", func(w http.ResponseWriter, r *http.Request) {
		var req webapi.LoginRequest
		json.NewDecoder(r.Body).Decode(&req)
		f.mu.Lock()
		f.got = append(f.got, "login "+r.PathValue("provider")+" "+req.Flow+" "+req.RefreshToken)
		f.mu.Unlock()
		st := vaultapi.LoginState{ID: "l1", Provider: r.PathValue("provider"), Flow: req.Flow, State: vaultapi.LoginPending,
			UserCode: "ABCD-EFGH", VerificationURI: "https://auth.example.org/device", Expires: time.Now().Add(time.Minute)}
		if req.Flow == vaultapi.FlowRefreshToken {
			st.State, st.Secret = vaultapi.LoginDone, &vaultapi.Secret{Fingerprint: "0a0b0c0d"}
		}
		json.NewEncoder(w).Encode(st)
	})
	m.HandleFunc("GET /api/v1/logins/{id}", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(vaultapi.LoginState{ID: r.PathValue("id"), State: vaultapi.LoginDone, Secret: &vaultapi.Secret{Fingerprint: "0a0b0c0d"}})
	})
	srv := &http.Server{Handler: m}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return f
}

func (f *fakeWeb) received() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

func (f *fakeWeb) terok(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "TEROK_RUN_DIR="+f.run, "TEROK_WEB_URL=", "TEROK_WEB_TOKEN=")
	return cmd
}

const cliKey = "sk-ant-api03-CLIKEYcliKEY0123456789"

// TestSecretSetTakesNoValueOnArgv: the value comes from standard input
// (trimmed); one on the command line is refused without being repeated
// and nothing is sent; plain HTTP to another machine is refused before
// anything is read.
func TestSecretSetTakesNoValueOnArgv(t *testing.T) {
	bin := filepath.Join(terokBin(t), "terok")
	f := newFakeWeb(t)
	cmd := f.terok(bin, "secret", "set", "anthropic", "--project", "demo")
	cmd.Stdin = strings.NewReader(cliKey + "\n")
	stdout, stderr, code := testkit.Run(cmd)
	if code != 0 || !strings.Contains(stdout, "stored anthropic (project demo), fingerprint 1f5f5110") {
		t.Fatalf("stdin: exit %d %q %q", code, stdout, stderr)
	}
	if got := f.received(); len(got) != 1 || got[0] != "anthropic demo "+cliKey {
		t.Fatalf("terok-web received %q", got)
	}
	cmd = f.terok(bin, "secret", "set", "anthropic", cliKey)
	cmd.Stdin = strings.NewReader("")
	stdout, stderr, code = testkit.Run(cmd)
	if code != 2 || !strings.Contains(stderr, "a secret on the command line is refused") || strings.Contains(stdout+stderr, cliKey) {
		t.Fatalf("argv: exit %d %q %q", code, stdout, stderr)
	}
	cmd = f.terok(bin, "secret", "set", "anthropic")
	cmd.Stdin = strings.NewReader("  \n")
	if _, stderr, code := testkit.Run(cmd); code != 1 || !strings.Contains(stderr, "the value is empty") {
		t.Fatalf("empty: exit %d %q", code, stderr)
	}
	cmd = f.terok(bin, "--url", "http://192.0.2.1:8566", "--token", "0123456789abcdef-token", "secret", "set", "anthropic")
	cmd.Stdin = strings.NewReader(cliKey)
	if _, stderr, code := testkit.Run(cmd); code != 1 || !strings.Contains(stderr, "refusing to send a secret over plain HTTP") {
		t.Fatalf("plain remote: exit %d %q", code, stderr)
	}
	if got := f.received(); len(got) != 1 {
		t.Fatalf("more reached terok-web: %q", got)
	}
	stdout, _, code = testkit.Run(f.terok(bin, "secret", "list"))
	if code != 0 || !strings.Contains(stdout, "anthropic  project demo  api-key") || !strings.Contains(stdout, "9c02e4d7") {
		t.Fatalf("list: exit %d\n%s", code, stdout)
	}
}

// TestSecretSetPromptsWithoutEcho: at a terminal, terok asks for the key
// and does not echo what is typed.
func TestSecretSetPromptsWithoutEcho(t *testing.T) {
	bin := filepath.Join(terokBin(t), "terok")
	f := newFakeWeb(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "secret", "set", "openai")
	cmd.Env = f.terok(bin).Env
	seen, stdout, waitErr := testkit.AtTerminal(t, cmd, "openai key (global): ", cliKey)
	if waitErr != nil || !strings.Contains(stdout, "stored openai (global)") {
		t.Fatalf("at a terminal: %v %q", waitErr, stdout)
	}
	if strings.Contains(seen, cliKey) {
		t.Errorf("the value was echoed: %q", seen)
	}
	if got := f.received(); len(got) != 1 || got[0] != "openai  "+cliKey {
		t.Fatalf("terok-web received %q", got)
	}
}

// TestSecretLogin: the device flow shows where to go and the code, then
// waits for the vault; --paste reads the refresh token like a key (never
// from the command line).
func TestSecretLogin(t *testing.T) {
	bin := filepath.Join(terokBin(t), "terok")
	f := newFakeWeb(t)
	stdout, stderr, code := testkit.Run(f.terok(bin, "secret", "login", "corp"))
	if code != 0 || !strings.Contains(stdout, "Open https://auth.example.org/device and enter the code ABCD-EFGH") ||
		!strings.Contains(stdout, "logged in: corp (global), fingerprint 0a0b0c0d") {
		t.Fatalf("device flow: exit %d %q %q", code, stdout, stderr)
	}
	cmd := f.terok(bin, "secret", "login", "corp", "--paste", "--project", "demo")
	cmd.Stdin = strings.NewReader(cliKey + "\n")
	if stdout, stderr, code := testkit.Run(cmd); code != 0 || !strings.Contains(stdout, "logged in: corp (project demo)") {
		t.Fatalf("--paste: exit %d %q %q", code, stdout, stderr)
	}
	cmd = f.terok(bin, "secret", "login", "corp", "--paste", cliKey)
	if _, stderr, code := testkit.Run(cmd); code != 2 || strings.Contains(stderr, cliKey) {
		t.Fatalf("--paste with a value on argv: exit %d %q", code, stderr)
	}
	if got := f.received(); len(got) != 2 || got[0] != "login corp device " || got[1] != "login corp refresh-token "+cliKey {
		t.Fatalf("terok-web received %q", got)
	}
}
