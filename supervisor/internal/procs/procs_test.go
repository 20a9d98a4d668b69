package procs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/supervisor/internal/config"
)

func TestPumpPrefixesWholeLines(t *testing.T) {
	r, w, _ := os.Pipe()
	var console testkit.SyncBuffer
	var file bytes.Buffer
	done := make(chan struct{})
	go func() { pump(r, "web", &file, NewConsole(&console), true); close(done) }()
	w.Write([]byte("one\ntw"))
	w.Write([]byte("o\nno newline"))
	w.Close()
	<-done
	if got := console.String(); got != "web | one\nweb | two\nweb | no newline\n" {
		t.Fatalf("console = %q", got)
	}
	if file.String() != "one\ntwo\nno newline" {
		t.Fatalf("file = %q", file.String())
	}
}

func spec(t *testing.T, command string, mod func(*config.Process)) *config.Process {
	p := &config.Process{Name: "p", Group: "p", Program: "p", Command: command, Umask: -1, Autostart: true,
		Autorestart: "unexpected", Exitcodes: []int{0}, Startsecs: 0, Startretries: 3, Stopsignal: syscall.SIGTERM,
		Stopwaitsecs: 5, StdoutLogfile: filepath.Join(t.TempDir(), "out.log"), StdoutPrefix: true}
	if mod != nil {
		mod(p)
	}
	return p
}

func newProc(t *testing.T, s *config.Process) *Process {
	p := New(s, Options{Log: zerolog.Nop(), Reaper: NewReaper(), ChildLogDir: t.TempDir(), Identifier: "t"})
	t.Cleanup(func() {
		p.Stop(context.Background(), true)
		p.Close()
	})
	return p
}

func waitState(t *testing.T, p *Process, want State) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.wait(ctx, func() bool { return p.state == want }); err != nil {
		t.Fatalf("state %s, want %s", p.State(), want)
	}
}

func TestLifecycle(t *testing.T) {
	p := newProc(t, spec(t, "/bin/sleep 1000", nil))
	ctx := context.Background()
	if err := p.Stop(ctx, true); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("stop before start: %v", err)
	}
	if err := p.Start(ctx, true); err != nil {
		t.Fatal(err)
	}
	if p.State() != Running || p.Info().PID == 0 {
		t.Fatalf("after start: %+v", p.Info())
	}
	if err := p.Start(ctx, true); !errors.Is(err, ErrAlreadyStarted) {
		t.Fatalf("second start: %v", err)
	}
	if err := p.Stop(ctx, true); err != nil {
		t.Fatal(err)
	}
	in := p.Info()
	if in.StateName != "STOPPED" || in.PID != 0 || in.ExitStatus != -1 {
		t.Fatalf("after stop: %+v", in)
	}
}

func TestAutorestartFalseStaysExited(t *testing.T) {
	p := newProc(t, spec(t, "/bin/sh -c 'exit 4'", func(s *config.Process) { s.Autorestart = "false" }))
	p.Autostart()
	waitState(t, p, Exited)
	time.Sleep(200 * time.Millisecond)
	if in := p.Info(); in.StateName != "EXITED" || in.ExitStatus != 4 {
		t.Fatalf("%+v", in)
	}
}

func TestBackoffThenFatal(t *testing.T) {
	p := newProc(t, spec(t, "/bin/sh -c 'echo try; exit 1'", func(s *config.Process) {
		s.Startsecs = 1
		s.Startretries = 0
	}))
	p.Autostart()
	waitState(t, p, Fatal)
	var b []byte
	for i := 0; i < 100 && !bytes.Contains(b, []byte("try")); i++ { // the pump may lag the exit
		time.Sleep(50 * time.Millisecond)
		b, _ = os.ReadFile(p.StdoutPath())
	}
	if strings.Count(string(b), "try") != 1 {
		t.Fatalf("startretries=0 made %d attempts", strings.Count(string(b), "try"))
	}
	if err := p.Start(context.Background(), true); !errors.Is(err, ErrAbnormal) {
		t.Fatalf("start of a failing program: %v", err)
	}
}

func TestNotExecutable(t *testing.T) {
	f := filepath.Join(t.TempDir(), "script")
	os.WriteFile(f, []byte("#!/bin/sh\n"), 0o644)
	p := newProc(t, spec(t, f, nil))
	if err := p.Start(context.Background(), true); !errors.Is(err, ErrNotExecutable) {
		t.Fatalf("start of a non-executable file: %v", err)
	}
}
