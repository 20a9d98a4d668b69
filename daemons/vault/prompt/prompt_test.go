package prompt

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

// The terminal's echo is off from the moment the question shows, so a
// value typed (or pasted) at once is not echoed; afterwards the terminal
// is as it was.
func TestSecretEchoOffBeforeTheQuestion(t *testing.T) {
	m, s := testkit.OpenPTY(t)
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	var out bytes.Buffer
	qr, qw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer qr.Close()
	go func() {
		b, err := Secret(s, qw, "key: ", 1024)
		qw.Close()
		done <- result{b, err}
	}()
	// The question is written only after echo went off: read it, then
	// look at the terminal's mode at once.
	q := make([]byte, len("key: "))
	if err := qr.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := qr.Read(q); err != nil || string(q) != "key: " {
		t.Fatalf("question %q %v", q, err)
	}
	tio, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if tio.Lflag&unix.ECHO != 0 {
		t.Fatal("the question shows while the terminal still echoes")
	}
	if _, err := m.Write([]byte("sk-typed-at-once\n")); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Secret did not return")
	}
	if r.err != nil || string(r.b) != "sk-typed-at-once" {
		t.Fatalf("read %q %v", r.b, r.err)
	}
	if tio, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS); err != nil || tio.Lflag&unix.ECHO == 0 {
		t.Fatalf("the terminal's echo is not back: %v", err)
	}
	// With the slave closed, the master reads what the terminal showed,
	// then ends.
	s.Close()
	buf := make([]byte, 256)
	for i := 0; i < 100; i++ { // bounded: the terminal showed a few bytes

		n, err := m.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if strings.Contains(out.String(), "sk-typed") {
		t.Fatalf("echoed: %q", out.String())
	}
}

func TestSecretFromAPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := w.WriteString("  sk-piped\n"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var out bytes.Buffer
	b, err := Secret(r, &out, "key: ", 1024)
	if err != nil || string(b) != "sk-piped" || out.Len() != 0 {
		t.Fatalf("%q %v, asked %q", b, err, out.String())
	}
	r2, w2, _ := os.Pipe()
	defer r2.Close()
	go func() { _, _ = w2.WriteString(strings.Repeat("x", 2000)); w2.Close() }()
	if _, err := Secret(r2, &out, "key: ", 1024); err == nil || !strings.Contains(err.Error(), "input too long") {
		t.Fatalf("too long: %v", err)
	}
}
