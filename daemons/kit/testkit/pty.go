package testkit

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// OpenPTY opens a pseudo-terminal pair (master, slave) through
// /dev/ptmx; both are closed when the test ends. A machine without
// pseudo-terminals skips the test (fails it in strict mode).
func OpenPTY(t testing.TB) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	Require(t, err == nil, fmt.Sprintf("no pseudo-terminals here (/dev/ptmx: %v); run on a machine with devpts", err))
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pseudo-terminal number: %v", err)
	}
	s, err := os.OpenFile(filepath.Join("/dev/pts", strconv.Itoa(n)), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the pseudo-terminal's slave: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// AtTerminal runs cmd with its standard input and error on a new
// pseudo-terminal: it waits for prompt on the terminal (20 s at most),
// types answer and a newline, and waits for cmd. It returns everything
// the terminal showed (prompt and any echo), cmd's standard output and
// cmd's error.
func AtTerminal(t testing.TB, cmd *exec.Cmd, prompt, answer string) (terminal, stdout string, err error) {
	t.Helper()
	m, s := OpenPTY(t)
	cmd.Stdin, cmd.Stderr = s, s
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	var seen bytes.Buffer
	buf := make([]byte, 512)
	for !strings.Contains(seen.String(), prompt) {
		_ = m.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, rerr := m.Read(buf)
		if rerr != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("no prompt %q on the terminal: %v %q", prompt, rerr, seen.String())
		}
		seen.Write(buf[:n])
	}
	if _, werr := m.Write([]byte(answer + "\n")); werr != nil {
		t.Fatalf("type at the terminal: %v", werr)
	}
	err = cmd.Wait()
	_ = m.SetReadDeadline(time.Now().Add(time.Second))
	for {
		n, rerr := m.Read(buf)
		seen.Write(buf[:n])
		if rerr != nil {
			break
		}
	}
	return seen.String(), out.String(), err
}
