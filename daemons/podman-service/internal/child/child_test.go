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
