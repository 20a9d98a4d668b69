package procs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogFilesArePrivate: a program log (and the supervisor's own) may
// hold what a daemon printed, so it is 0600 in a directory the supervisor
// makes 0700, also after a rotation and for a file an older version left
// 0644; a device such as /dev/null is not touched.
func TestLogFilesArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	path := filepath.Join(dir, "terok-gate.log")
	l := NewLogFile(path, 100, 2)
	mode := func(p string) os.FileMode {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	if m := mode(dir); m != 0o700 {
		t.Fatalf("log directory %v, want 0700", m)
	}
	if m := mode(path); m != 0o600 {
		t.Fatalf("log file %v, want 0600", m)
	}
	for i := 0; i < 5; i++ { // past 100 bytes twice: two rotations
		if _, err := l.Write([]byte(strings.Repeat("x", 60) + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	for _, p := range []string{path, path + ".1", path + ".2"} {
		if m := mode(p); m != 0o600 {
			t.Errorf("%s %v after rotation, want 0600", filepath.Base(p), m)
		}
	}

	old := filepath.Join(dir, "old.log")
	if err := os.WriteFile(old, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(old, 0o644)
	NewLogFile(old, 0, 0).Close()
	if m := mode(old); m != 0o600 {
		t.Errorf("an existing 0644 log is %v, want 0600", m)
	}
	before := mode("/dev/null")
	NewLogFile("/dev/null", 0, 0).Close()
	if m := mode("/dev/null"); m != before {
		t.Errorf("/dev/null changed from %v to %v", before, m)
	}
}
