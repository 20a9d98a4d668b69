package server_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/server"
	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

// tempDir makes a tkgate- prefixed directory removed after the test.
func tempDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "tkgate-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// gitEnv isolates git from the user's and system's configuration.
func gitEnv(home string) []string {
	env := []string{}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GIT_") || strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.invalid",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.invalid")
}

type gitRunner struct {
	t    testing.TB
	home string
}

func newGit(t testing.TB) *gitRunner {
	testkit.RequireCommand(t, "git")
	return &gitRunner{t: t, home: tempDir(t)}
}

// run runs git in dir and fails the test on error.
func (g *gitRunner) run(dir string, args ...string) string {
	g.t.Helper()
	out, err := g.try(dir, args...)
	if err != nil {
		g.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

// try runs git in dir and returns its combined output and error.
func (g *gitRunner) try(dir string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv(g.home)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// commit writes file=content in the work tree dir and commits it.
func (g *gitRunner) commit(dir, file, content, msg string) string {
	g.t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, file)), 0o755); err != nil {
		g.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
		g.t.Fatal(err)
	}
	g.run(dir, "add", file)
	g.run(dir, "commit", "-q", "-m", msg)
	return g.run(dir, "rev-parse", "HEAD")
}

type gate struct {
	t      testing.TB
	cfg    config.Config
	base   string // http://127.0.0.1:port
	api    *gateapi.Client
	admin  string
	srv    *server.Server
	cancel context.CancelFunc
	done   chan error
	logs   *testkit.SyncBuffer
}

type gateOpt func(*config.Config)

// startGate runs a gate on a random loopback port with root as state.
func startGate(t testing.TB, root string, opts ...gateOpt) *gate {
	t.Helper()
	cfg := config.Default()
	cfg.Root = root
	cfg.Listen = "127.0.0.1:0"
	cfg.Socket = filepath.Join(root, "gate.sock")
	cfg.PollInterval = 0
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &testkit.SyncBuffer{}
	log := zerolog.New(logs)
	srv, err := server.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if pollTick > 0 {
		srv.PollTick = pollTick
	}
	gitLn, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		t.Fatal(err)
	}
	adminLn, err := net.Listen("unix", cfg.Socket)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &gate{t: t, cfg: cfg, base: "http://" + gitLn.Addr().String(), api: gateapi.New(cfg.Socket), srv: srv,
		cancel: cancel, done: make(chan error, 1), logs: logs}
	g.admin, _ = srv.AdminToken()
	go func() { g.done <- srv.Serve(ctx, gitLn, adminLn) }()
	t.Cleanup(g.stop)
	return g
}

func (g *gate) stop() {
	if g.cancel == nil {
		return
	}
	g.cancel()
	g.cancel = nil
	select {
	case err := <-g.done:
		if err != nil {
			g.t.Errorf("gate stopped with %v", err)
		}
	case <-time.After(20 * time.Second):
		g.t.Error("gate did not stop within 20s")
	}
}

// url is the clone URL of project with tok as the Basic user name.
func (g *gate) url(tok, project string) string {
	return strings.Replace(g.base, "http://", "http://"+tok+"@", 1) + "/" + project + ".git"
}

func (g *gate) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	g.t.Cleanup(cancel)
	return ctx
}

func (g *gate) createRepo(name string) {
	g.t.Helper()
	if _, _, err := g.api.EnsureRepo(g.ctx(), gateapi.EnsureRepoRequest{Name: name}); err != nil {
		g.t.Fatal(err)
	}
}

func (g *gate) mint(project, task string) string {
	g.t.Helper()
	res, err := g.api.MintToken(g.ctx(), project, task)
	if err != nil {
		g.t.Fatal(err)
	}
	return res.Secret
}

// raw sends a literal HTTP/1.1 request and returns status and body.
func (g *gate) raw(req string) (int, string) {
	g.t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(g.base, "http://"), 5*time.Second)
	if err != nil {
		g.t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		g.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		g.t.Fatalf("read response to %q: %v", firstLine(req), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\r\n")
	return l
}

func basic(tok string) string {
	return "Authorization: Basic " + b64(tok+":") + "\r\n"
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func pkt(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }

type cfgT = config.Config

func dialGate(t testing.TB, g *gate) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(g.base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return c
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// packBytes returns a pack of the objects in new but not old.
func packBytes(t testing.TB, gr *gitRunner, dir, old, new string) []byte {
	t.Helper()
	cmd := exec.Command("git", "pack-objects", "--stdout", "--revs", "-q")
	cmd.Dir = dir
	cmd.Env = gitEnv(gr.home)
	cmd.Stdin = strings.NewReader(new + "\n^" + old + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitQuiet waits (bounded, 20s) until no receive-pack of a dropped
// connection is still at work in project's repository: git keeps incoming
// objects in objects/incoming-* until it finishes.
func waitQuiet(g *gate, project string) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		m, _ := filepath.Glob(filepath.Join(g.srvDir(project), "objects", "incoming-*"))
		if len(m) == 0 {
			time.Sleep(200 * time.Millisecond) // and a breath for the ref update
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func cfgDuration(d time.Duration) config.Duration { return config.Duration(d) }

// startGateWith starts a gate with a given poll tick.
func startGateWith(t testing.TB, root string, tick time.Duration, opts ...gateOpt) *gate {
	t.Helper()
	pollTick = tick
	defer func() { pollTick = 0 }()
	return startGate(t, root, opts...)
}

var pollTick time.Duration

// wantErr checks that err matches the sentinel a caller tests (errors.Is
// against unixhttp.ErrNotFound, ...) and holds the message a user reads.
func wantErr(t testing.TB, what string, err, is error, msg string) {
	t.Helper()
	if !errors.Is(err, is) || !strings.Contains(err.Error(), msg) {
		t.Errorf("%s: got %v, want %v saying %q", what, err, is, msg)
	}
}
