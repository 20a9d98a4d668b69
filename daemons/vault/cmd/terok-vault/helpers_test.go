package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/fakeupstream"
	"github.com/terok-ai/terok-in-docker/daemons/vault/vaultapi"
)

// TestMain removes the binaries testkit.Build compiled for these tests.
func TestMain(m *testing.M) { testkit.Main(m) }

// vaultUser is who the vault runs as when the tests run as root.
const vaultUser = "nobody"

// env is one vault's directories and what it talks to: the real binary,
// a fake provider over TLS on loopback and its CA.
type env struct {
	t                           *testing.T
	bin, base, run, conf, state string
	caFile                      string
	ca                          *testkit.CA
	up                          *fakeupstream.Provider
	extraArgs, extraEnv         []string

	cmd      *exec.Cmd
	out      *testkit.SyncBuffer // stdout and stderr of every start
	exited   chan error
	broker   string // http://127.0.0.1:PORT
	client   *vaultapi.Client
	answered *bytes.Buffer // every API answer the test read, for grepping
}

// newEnv makes the directories, a fake provider, and the provider files
// "fake" (x-api-key) and "fakeb" (Authorization Bearer) pointing at it.
// The base directory is 0700 and root's, as /home/podman is in the image:
// the vault reaches its own directories below it only through what it
// opened before it dropped root.
func newEnv(t *testing.T) *env {
	t.Helper()
	base, err := os.MkdirTemp("", "tkvault-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	ca, err := testkit.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	up, err := fakeupstream.StartProvider(ca)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(up.Close)
	e := &env{t: t, base: base, run: filepath.Join(base, "run"), conf: filepath.Join(base, "config"), state: filepath.Join(base, "state"),
		caFile: filepath.Join(base, "ca.pem"), ca: ca, up: up, out: &testkit.SyncBuffer{}, answered: &bytes.Buffer{}}
	os.WriteFile(e.caFile, ca.PEM, 0o644)
	// A copy of the binary beside the rest (other users run it in some
	// tests, which make base traversable).
	e.bin = filepath.Join(base, "terok-vault")
	copyFile(t, testkit.BuildDaemon(t, "."), e.bin)
	e.writeProvider("fake", "upstream "+up.URL+"\ninject x-api-key\naccept x-api-key\naccept Authorization Bearer\n"+
		"phantom sk-fake-{base64url:40}\nroute POST /v1/messages\nroute GET /v1/models\n")
	e.writeProvider("fakeb", "upstream "+up.URL+"\ninject Authorization Bearer\nphantom sk-fakeb-{alnum:40}\nroute POST /v1/messages\n")
	return e
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func (e *env) providersDir() string { return filepath.Join(e.conf, "system", "vault", "providers") }

// writeProvider plants a provider file as root (or the test's user), the
// way an operator adds one.
func (e *env) writeProvider(name, body string) {
	e.t.Helper()
	os.MkdirAll(e.providersDir(), 0o755)
	if err := os.WriteFile(filepath.Join(e.providersDir(), name+".provider"), []byte(body), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) environ() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEROK_") {
			out = append(out, kv)
		}
	}
	out = append(out, "TEROK_RUN_DIR="+e.run, "TEROK_CONFIG_DIR="+e.conf, "TEROK_STATE_DIR="+e.state, "TEROK_LOG_LEVEL=debug")
	if os.Geteuid() == 0 {
		// The CLI sends secrets only to a socket of root, its caller or
		// the vault's user.
		out = append(out, "TEROK_VAULT_USER="+vaultUser)
	}
	return out
}

func (e *env) serveArgs() []string {
	args := []string{"serve", "--listen", "127.0.0.1:0", "--test-ca-file", e.caFile}
	if os.Geteuid() == 0 {
		args = append(args, "--user", vaultUser)
	}
	return append(args, e.extraArgs...)
}

var brokerLine = regexp.MustCompile(`credential broker on (127\.0\.0\.1:\d+)`)

// start runs `terok-vault serve` and waits until it answers on its socket.
func (e *env) start() {
	e.t.Helper()
	cmd := exec.Command(e.bin, e.serveArgs()...)
	cmd.Env = append(e.environ(), e.extraEnv...)
	cmd.Stdout, cmd.Stderr = e.out, e.out
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.cmd, e.exited = cmd, make(chan error, 1)
	go func() { e.exited <- cmd.Wait() }()
	e.t.Cleanup(e.stop)
	e.client = vaultapi.New(filepath.Join(e.run, "vault.sock"))
	// The banner of this start, not of an earlier one.
	seen := len(brokerLine.FindAllStringSubmatch(e.out.String(), -1))
	for range 200 { // bounded: 20 s
		select {
		case err := <-e.exited:
			e.exited <- err
			e.t.Fatalf("terok-vault exited at start: %v\n%s", err, e.out.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := e.client.Health(ctx)
		cancel()
		if m := brokerLine.FindAllStringSubmatch(e.out.String(), -1); err == nil && len(m) > seen {
			e.broker = "http://" + m[len(m)-1][1]
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("terok-vault did not answer within 20 s:\n%s", e.out.String())
}

// stop ends the vault with SIGTERM (a no-op when it is gone).
func (e *env) stop() {
	if e.cmd == nil {
		return
	}
	e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.exited:
	case <-time.After(15 * time.Second):
		e.cmd.Process.Kill()
		<-e.exited
		e.t.Errorf("terok-vault did not stop within 15 s of SIGTERM")
	}
	e.cmd = nil
}

// kill9 ends the vault the hard way.
func (e *env) kill9() {
	e.cmd.Process.Signal(syscall.SIGKILL)
	<-e.exited
	e.cmd = nil
}

// cli runs a terok-vault command with stdin and returns its output and
// exit status.
func (e *env) cli(stdin string, args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, args...)
	cmd.Env = e.environ()
	cmd.Stdin = strings.NewReader(stdin)
	stdout, stderr, code = testkit.Run(cmd)
	e.answered.WriteString(stdout + stderr)
	return stdout, stderr, code
}

// serveOnce runs `terok-vault serve` expecting it to refuse to start, and
// returns its output and exit status.
func (e *env) serveOnce(extraEnv ...string) (string, int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, e.serveArgs()...)
	cmd.Env = append(e.environ(), extraEnv...)
	stdout, stderr, code := testkit.Run(cmd)
	if ctx.Err() != nil {
		e.t.Fatalf("serve ran on instead of refusing:\n%s%s", stdout, stderr)
	}
	return stdout + stderr, code
}

// call sends one request through the broker and returns status and body.
func (e *env) call(method, path string, hdr map[string]string, body string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.broker+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	e.answered.Write(b)
	for k, vs := range resp.Header {
		e.answered.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
	}
	return resp.StatusCode, string(b)
}

// secretValue is a fresh value that cannot occur anywhere by chance.
func secretValue(prefix string) string {
	var b [16]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// grepTree returns the files under dir whose content holds s.
func grepTree(t *testing.T, dir, s string) []string {
	t.Helper()
	var hits []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte(s)) {
			hits = append(hits, p)
		}
		return nil
	})
	return hits
}

func mustJSON(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

var _ = fmt.Sprint

// serveOnceArgs runs the binary with args expecting a refusal, without
// TEROK_VAULT_USER.
func (e *env) serveOnceArgs(args []string) (string, int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, args...)
	for _, kv := range e.environ() {
		if !strings.HasPrefix(kv, "TEROK_VAULT_USER=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	stdout, stderr, code := testkit.Run(cmd)
	if ctx.Err() != nil {
		e.t.Fatalf("ran on instead of refusing:\n%s%s", stdout, stderr)
	}
	return stdout + stderr, code
}
