package child

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

// fakePodman is a seam for the real `podman system service` (which
// ../../itest drives): a shell script serving GET /_ping and the version
// with python3 on the unix socket given as its last argument.
const fakePodman = `#!/bin/sh
sock=${4#unix://}
exec python3 -c '
import socket, sys, os
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8)
while True:
    c, _ = s.accept(); req = c.recv(4096)
    body = b"OK" if b"/_ping" in req else b"{\"Version\":\"9.8.7\",\"ApiVersion\":\"1.41\"}"
    c.sendall(b"HTTP/1.0 200 OK\r\nLibpod-API-Version: 9.8.7\r\nContent-Length: %d\r\n\r\n" % len(body) + body); c.close()
' "$sock"
`

func TestSupervisor(t *testing.T) {
	testkit.RequireCommand(t, "python3")
	dir := t.TempDir()
	bin := filepath.Join(dir, "podman")
	os.WriteFile(bin, []byte(fakePodman), 0o755)
	sock := filepath.Join(dir, "podman.sock")
	// A stale socket from a crash is cleared at start.
	l, _ := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	l.SetUnlinkOnClose(false)
	l.Close()

	// Probes come often, but a slow answer on a busy machine is not a
	// failure: each ping may take 20 s, so the only restart is the one the
	// test causes and the count below is exact.
	s := New(Options{Podman: bin, Socket: sock, ProbeInterval: 100 * time.Millisecond, ProbeTimeout: 20 * time.Second, MinBackoff: 50 * time.Millisecond}, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitFor := func(what string, ok func(Snapshot) bool) Snapshot {
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			if sn := s.Snapshot(); ok(sn) {
				return sn
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("timed out waiting for %s: %+v", what, s.Snapshot())
		return Snapshot{}
	}
	first := waitFor("ready", func(sn Snapshot) bool { return sn.State == Ready })
	if first.PodmanVersion != "9.8.7" || first.PID == 0 {
		t.Fatalf("%+v", first)
	}
	// Death: the child is replaced.
	if p, err := os.FindProcess(first.PID); err == nil {
		p.Kill()
	}
	second := waitFor("replacement", func(sn Snapshot) bool { return sn.State == Ready && sn.PID != first.PID })
	if second.Restarts != 1 || !strings.Contains(second.LastError, "exited") {
		t.Fatalf("want exactly the one restart the kill caused: %+v", second)
	}
	// The replacement keeps answering: many probe periods later it is the
	// same child (a late spurious restart would change PID and count).
	probes := 0
	for probes < 20 {
		time.Sleep(100 * time.Millisecond)
		if sn := s.Snapshot(); sn.PID != second.PID || sn.Restarts != 1 {
			t.Fatalf("the healthy replacement was restarted: %+v", sn)
		}
		probes++
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left behind: %v", err)
	}
	if sn := s.Snapshot(); sn.State != Stopped {
		t.Fatalf("%+v", sn)
	}
}

func TestSocketNotOurs(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "podman.sock")
	os.WriteFile(plain, []byte("keep"), 0o644)
	s := New(Options{Podman: "/nonexistent", Socket: plain}, zerolog.Nop())
	if err := s.Run(context.Background()); !errors.Is(err, ErrNotSocket) {
		t.Fatalf("want ErrNotSocket, got %v", err)
	}
	live := filepath.Join(dir, "live.sock")
	ln, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s = New(Options{Podman: "/nonexistent", Socket: live}, zerolog.Nop())
	if err := s.Run(context.Background()); !errors.Is(err, ErrSocketInUse) {
		t.Fatalf("want ErrSocketInUse, got %v", err)
	}
}

// lostPausePodman is fakePodman with rootless Podman's lost-pause-process
// failure: while the file $LOST exists, `system service` prints Podman's
// error and exits; `system migrate` removes the file and counts its runs
// in $MIGRATED.
const lostPausePodman = `#!/bin/sh
if [ "$2" = migrate ]; then echo run >> "$MIGRATED"; rm -f "$LOST"; echo "stopped 0123abcd"; exit 0; fi
if [ -e "$LOST" ]; then
  echo 'time="2026-01-01T00:00:00Z" level=error msg="invalid internal status, try resetting the pause process with \"podman system migrate\": cannot re-exec process to join the existing user namespace"' >&2
  exit 125
fi
` + "exec sh -c \"$(sed -n '/^sock=/,$p' \"$FAKE\")\" fake \"$@\"\n"

// TestLostPauseProcessHealed: a service that cannot start because the
// pause process is gone gets one `podman system migrate` and answers
// again at the next start, without the growing backoff between.
func TestLostPauseProcessHealed(t *testing.T) {
	testkit.RequireCommand(t, "python3")
	dir := t.TempDir()
	fake := filepath.Join(dir, "fake-podman")
	os.WriteFile(fake, []byte(fakePodman), 0o755)
	bin := filepath.Join(dir, "podman")
	os.WriteFile(bin, []byte(lostPausePodman), 0o755)
	lost, migrated := filepath.Join(dir, "lost"), filepath.Join(dir, "migrated")
	os.WriteFile(lost, nil, 0o644)
	t.Setenv("LOST", lost)
	t.Setenv("MIGRATED", migrated)
	t.Setenv("FAKE", fake)

	var logs testkit.SyncBuffer
	// A backoff this long would outlast the test: only the reset's
	// immediate retry can make the service answer in time.
	s := New(Options{Podman: bin, Socket: filepath.Join(dir, "podman.sock"), ProbeInterval: time.Hour,
		MinBackoff: 10 * time.Minute, MaxBackoff: 10 * time.Minute}, zerolog.New(&logs))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(60 * time.Second)
	for s.Snapshot().State != Ready {
		if time.Now().After(deadline) {
			t.Fatalf("not ready again after the reset: %+v\n%s", s.Snapshot(), logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	runs, _ := os.ReadFile(migrated)
	if string(runs) != "run\n" {
		t.Fatalf("podman system migrate ran %q, want exactly once", runs)
	}
	sn := s.Snapshot()
	if sn.Migrations != 1 || sn.Restarts != 1 {
		t.Fatalf("want one migration and one restart: %+v", sn)
	}
	out := logs.String()
	for _, want := range []string{`"level":"error","from":"podman"`, "invalid internal status", "running `podman system migrate` once"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// TestMigrateOnlyOnce: when the reset does not help, it is not repeated
// before the service answered once; restarts back off as usual.
func TestMigrateOnlyOnce(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "podman")
	// migrate "succeeds" but the failure stays.
	os.WriteFile(bin, []byte(`#!/bin/sh
if [ "$2" = migrate ]; then echo run >> "$MIGRATED"; exit 0; fi
echo 'level=error msg="invalid internal status, try resetting the pause process with \"podman system migrate\""' >&2
exit 125
`), 0o755)
	migrated := filepath.Join(dir, "migrated")
	t.Setenv("MIGRATED", migrated)
	s := New(Options{Podman: bin, Socket: filepath.Join(dir, "podman.sock"), MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(60 * time.Second)
	for s.Snapshot().Restarts < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("restarts stalled: %+v", s.Snapshot())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if runs, _ := os.ReadFile(migrated); string(runs) != "run\n" {
		t.Fatalf("podman system migrate ran %q, want once until the service answers", runs)
	}
}

func TestPodmanLevel(t *testing.T) {
	for line, want := range map[string]zerolog.Level{
		`time="x" level=warning msg="\"/\" is not a shared mount"`: zerolog.WarnLevel,
		`time="x" level=error msg="boom"`:                          zerolog.ErrorLevel,
		`level=fatal msg="x"`:                                      zerolog.ErrorLevel,
		`time="x" level=info msg="API service listening"`:          zerolog.InfoLevel,
		`time="x" level=debug msg="x"`:                             zerolog.DebugLevel,
		`plain output`:                                             zerolog.InfoLevel,
	} {
		if got := podmanLevel(line); got != want {
			t.Errorf("%s: level %v, want %v", line, got, want)
		}
	}
}

// slowVersionPodman is fakePodman whose version query never answers (as
// Podman's, which runs the package manager for each component, on a busy
// machine); its server, one request at a time, then answers nothing else.
const slowVersionPodman = `#!/bin/sh
sock=${4#unix://}
exec python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8)
while True:
    c, _ = s.accept(); req = c.recv(4096)
    if b"/_ping" not in req:
        time.sleep(3600)
    c.sendall(b"HTTP/1.0 200 OK\r\nLibpod-API-Version: 9.8.7\r\nAPI-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK"); c.close()
' "$sock"
`

// TestSlowVersionAtStart: readiness is a ping (the version comes from its
// headers), so a child whose version query does not answer is ready, and
// neither killed nor restarted (a kill broke the requests it was already
// serving).
func TestSlowVersionAtStart(t *testing.T) {
	testkit.RequireCommand(t, "python3")
	dir := t.TempDir()
	bin := filepath.Join(dir, "podman")
	os.WriteFile(bin, []byte(slowVersionPodman), 0o755)
	sock := filepath.Join(dir, "podman.sock")
	s := New(Options{Podman: bin, Socket: sock, ProbeTimeout: 300 * time.Millisecond, StartTimeout: time.Minute, MinBackoff: 50 * time.Millisecond, StopGrace: time.Second}, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	var sn Snapshot
	for range 300 { // 30 s at most
		if sn = s.Snapshot(); sn.State == Ready || sn.Restarts > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if sn.State != Ready || sn.Restarts != 0 || sn.PodmanVersion != "9.8.7" || sn.APIVersion != "1.41" {
		t.Fatalf("want the first child ready, with the ping's versions, without a restart: %+v", sn)
	}
}
