package tasks

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestTailOffset(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	big := bytes.Repeat([]byte("x"), 10<<20) // a 10 MB line between short ones
	content := append(append([]byte("one\n"), big...), []byte("\nthree\nfour\n")...)
	if _, err := f.Write(content); err != nil {
		t.Fatal(err)
	}
	for n, want := range map[int]string{0: "", 1: "four\n", 2: "three\nfour\n", 3: string(big) + "\nthree\nfour\n", 9: string(content)} {
		off, err := TailOffset(f, n)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(content[off:]); got != want {
			t.Errorf("tail %d: got %d bytes, want %d", n, len(got), len(want))
		}
	}
	// No final newline: the last partial line counts as a line.
	g, _ := os.Create(filepath.Join(t.TempDir(), "log2"))
	defer g.Close()
	g.WriteString("a\nb\nc")
	if off, err := TailOffset(g, 2); err != nil || off != 2 {
		t.Errorf("tail 2 of a\\nb\\nc starts at %d, want 2", off)
	}
}
