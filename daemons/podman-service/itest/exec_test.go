package itest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
)

// TestExecTTY runs an interactive shell with a pseudo-terminal in a
// running container through Podman's exec API: the terminal has the size
// asked at start, follows a resize, passes every byte (Ctrl-P and Ctrl-Q
// too), and the exit code arrives through inspect.
func TestExecTTY(t *testing.T) {
	for _, tr := range tiers {
		t.Run(tr.name, func(t *testing.T) { testExecTTY(t, tr) })
	}
}

func testExecTTY(t *testing.T, tr tier) {
	e := newEnv(t, tr)
	s := e.start()
	ctx := ctxT(t, 3*time.Minute)
	f, err := os.Open(busyboxTar(t, e.base))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const img = "localhost/tkpodman-exec:test"
	if _, err := s.api.ImportImage(ctx, img, f); err != nil {
		t.Fatal(err)
	}
	cr, err := s.api.CreateContainer(ctx, podmanapi.CreateSpec{Image: img, Command: []string{"sleep", "300"},
		NetNS: &podmanapi.Namespace{Mode: "none"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.api.RemoveContainer(ctx, cr.ID, podmanapi.RemoveOptions{Force: true}) })

	// Before the container runs there is nothing to exec into.
	if _, err := s.api.CreateExec(ctx, cr.ID, podmanapi.ExecConfig{Cmd: []string{"true"}}); !errors.Is(err, podmanapi.ErrConflict) {
		t.Fatalf("exec in a stopped container: want ErrConflict, got %v", err)
	}
	if err := s.api.StartContainer(ctx, cr.ID); err != nil {
		t.Fatal(err)
	}

	id, err := s.api.CreateExec(ctx, cr.ID, podmanapi.ExecConfig{
		Cmd: []string{"sh"}, Env: []string{"TKX=from-exec"}, WorkingDir: "/tmp",
		Tty: true, AttachStdin: true, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		t.Fatalf("create exec: %v", err)
	}
	st, err := s.api.StartExec(ctx, id, podmanapi.ExecStartOptions{Tty: true, Rows: 30, Cols: 100})
	if err != nil {
		t.Fatalf("start exec: %v\n%s", err, s.logs())
	}
	defer st.Close()
	out := readAll(st)
	// The shell prints "size=30 100": the echo of the typed line shows
	// "size=$(...)", so only the expanded form proves the size.
	io.WriteString(st, "echo size=$(busybox stty size) env=$TKX pwd=$(pwd)\n")
	out.waitFor(t, "size=30 100 env=from-exec pwd=/tmp")
	if err := s.api.ResizeExec(ctx, id, 40, 120); err != nil {
		t.Fatalf("resize: %v", err)
	}
	io.WriteString(st, "echo size=$(busybox stty size)\n")
	out.waitFor(t, "size=40 120")
	if ins, err := s.api.InspectExec(ctx, id); err != nil || !ins.Running || ins.ContainerID != cr.ID {
		t.Fatalf("inspect a running exec: %+v %v", ins, err)
	}
	io.WriteString(st, "exit 3\n")
	out.waitEOF(t)
	code, err := s.api.WaitExec(ctx, id)
	if err != nil || code != 3 {
		t.Fatalf("exit code: %d %v", code, err)
	}
	if _, err := s.api.StartExec(ctx, id, podmanapi.ExecStartOptions{Tty: true}); err == nil {
		t.Fatal("an exec session that already ran started again")
	}

	// Every byte reaches the process: Ctrl-P Ctrl-Q (the podman CLI's
	// default detach sequence, and a shell's history keys) too.
	id2, err := s.api.CreateExec(ctx, cr.ID, podmanapi.ExecConfig{
		Cmd: []string{"sh", "-c", "busybox stty raw -echo; echo READY; busybox head -c 3 | busybox od -An -tx1"},
		Tty: true, AttachStdin: true, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	st2, err := s.api.StartExec(ctx, id2, podmanapi.ExecStartOptions{Tty: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	out2 := readAll(st2)
	// Once the terminal is raw (READY), send the bytes.
	out2.waitFor(t, "READY")
	io.WriteString(st2, "\x10\x11x")
	out2.waitFor(t, "10 11 78")
	out2.waitEOF(t)
	if code, err := s.api.WaitExec(ctx, id2); err != nil || code != 0 {
		t.Fatalf("raw exec exit: %d %v", code, err)
	}

	// Bad input: unknown container, unknown session, no command, bad size.
	if _, err := s.api.CreateExec(ctx, "tkpodman-no-such-container", podmanapi.ExecConfig{Cmd: []string{"true"}}); !errors.Is(err, podmanapi.ErrNotFound) {
		t.Fatalf("exec in an unknown container: want ErrNotFound, got %v", err)
	}
	if _, err := s.api.StartExec(ctx, "0123456789abcdef", podmanapi.ExecStartOptions{Tty: true}); !errors.Is(err, podmanapi.ErrNotFound) {
		t.Fatalf("start an unknown exec: want ErrNotFound, got %v", err)
	}
	if _, err := s.api.InspectExec(ctx, "0123456789abcdef"); !errors.Is(err, podmanapi.ErrNotFound) {
		t.Fatalf("inspect an unknown exec: want ErrNotFound, got %v", err)
	}
	if _, err := s.api.CreateExec(ctx, cr.ID, podmanapi.ExecConfig{}); err == nil || !strings.Contains(err.Error(), "no command") {
		t.Fatalf("exec without a command: %v", err)
	}
	if err := s.api.ResizeExec(ctx, id, 0, 80); err == nil || !strings.Contains(err.Error(), "positive") {
		t.Fatalf("resize to zero rows: %v", err)
	}
}

// streamBuf collects what a stream sends until it ends.
type streamBuf struct {
	mu   sync.Mutex
	b    bytes.Buffer
	done chan struct{}
}

func readAll(r io.Reader) *streamBuf {
	sb := &streamBuf{done: make(chan struct{})}
	go func() {
		defer close(sb.done)
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			sb.mu.Lock()
			sb.b.Write(buf[:n])
			sb.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return sb
}

func (sb *streamBuf) String() string {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.b.String()
}

func (sb *streamBuf) has(s string) bool { return strings.Contains(sb.String(), s) }

func (sb *streamBuf) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !sb.has(s) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !sb.has(s) {
		t.Fatalf("no %q in the terminal within 60s; got %q", s, sb.String())
	}
}

func (sb *streamBuf) waitEOF(t *testing.T) {
	t.Helper()
	select {
	case <-sb.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("stream did not end within 60s after the process exited; got %q", sb.String())
	}
}
