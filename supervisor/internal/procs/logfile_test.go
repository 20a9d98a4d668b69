package procs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostileLogFileLink: a symlink planted where a log file goes is
// never written through (a root supervisor would otherwise append program
// output to any file the link names), and the supervisor keeps running.
func TestHostileLogFileLink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("precious\n"), 0o644)
	path := filepath.Join(dir, "prog.log")
	os.Symlink(victim, path)
	l := newFileLog(path, 0, 3)
	if _, err := l.Write([]byte("program output\n")); err == nil || !strings.Contains(err.Error(), "is a symlink") {
		t.Errorf("write through a planted link: %v, want a refusal", err)
	}
	l.Close()
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Fatalf("the link's target was written: %q", b)
	}
}

func TestLogFileModeAndRotation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	path := filepath.Join(dir, "prog.log")
	l := newFileLog(path, 10, 2)
	defer l.Close()
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != LogDirMode {
		t.Fatalf("log dir: %v %v, want mode %o", st, err, LogDirMode)
	}
	for _, line := range []string{"first-line\n", "second-line\n", "third-line\n"} {
		if _, err := l.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{path, path + ".1", path + ".2"} {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != LogMode {
			t.Errorf("%s: %v %v, want mode %o", p, st, err, LogMode)
		}
	}
	if b, _ := os.ReadFile(path + ".1"); string(b) != "third-line\n" {
		t.Errorf(".1 holds %q, want the newest rotated line", b)
	}
	if err := l.ClearAllLogFile(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".1"); !os.IsNotExist(err) {
		t.Errorf("backups left after clearing: %v", err)
	}

	// A file an earlier version left world-readable is narrowed on open.
	old := filepath.Join(dir, "old.log")
	os.WriteFile(old, []byte("x\n"), 0o644)
	os.Chmod(old, 0o644)
	l2 := newFileLog(old, 0, 1)
	defer l2.Close()
	if st, _ := os.Stat(old); st.Mode().Perm() != LogMode {
		t.Errorf("existing log file mode %v, want %o", st.Mode().Perm(), LogMode)
	}
}
