package trust

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

// TestChecks runs as root (the checks of ownership apply only there).
func TestChecks(t *testing.T) {
	testkit.RequireRoot(t)
	base := t.TempDir()
	dir := filepath.Join(base, "system", "shield")
	if err := MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, filepath.Dir(dir): 0o755} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Fatalf("%s: %v %v, want mode %o", p, fi.Mode(), err, want)
		}
	}
	good := filepath.Join(dir, "good.json")
	if err := os.WriteFile(good, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(good, 10); err != nil || string(b) != "{}" {
		t.Fatalf("root's own file: %q %v", b, err)
	}
	if _, err := ReadFile(good, 1); err == nil || !strings.Contains(err.Error(), "larger than 1 bytes") {
		t.Fatalf("size limit: %v", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "absent"), 10); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if err := CheckDir(filepath.Join(base, "absent")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing dir: %v", err)
	}

	refused := func(what string, err error, want ...string) {
		t.Helper()
		if !errors.Is(err, ErrUntrusted) {
			t.Fatalf("%s: want a refusal, got %v", what, err)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q lacks %q", what, err, w)
			}
		}
	}
	// Files.
	other := filepath.Join(dir, "other.json")
	os.WriteFile(other, []byte("{}"), 0o600)
	os.Chown(other, 65534, 65534)
	_, err := ReadFile(other, 10)
	refused("another user's file", err, other+" belongs to uid 65534", "chown root:root "+other+" && chmod 0600 "+other)
	open := filepath.Join(dir, "open.json")
	os.WriteFile(open, []byte("{}"), 0o600)
	os.Chmod(open, 0o666)
	_, err = ReadFile(open, 10)
	refused("a world-writable file", err, "writable by others than root (mode 0666)")
	link := filepath.Join(dir, "link.json")
	os.Symlink(good, link)
	_, err = ReadFile(link, 10)
	refused("a symbolic link", err, link+" is a symbolic link")
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := ReadFile(fifo, 10); done <- err }()
	select {
	case err := <-done:
		refused("a FIFO", err, "not a regular file")
	case <-time.After(10 * time.Second):
		t.Fatal("reading a FIFO hung")
	}
	// Directories.
	if err := CheckTree(dir); err != nil {
		t.Fatalf("root's own tree: %v", err)
	}
	os.Chmod(dir, 0o770)
	refused("a group-writable dir", CheckDir(dir), "(mode 0770)", "chmod 0700 "+dir)
	os.Chmod(dir, 0o700)
	os.Chown(filepath.Dir(dir), 65534, 65534)
	refused("another user's parent", CheckTree(dir), filepath.Dir(dir)+" belongs to uid 65534", "chmod 0755 "+filepath.Dir(dir))
	os.Chown(filepath.Dir(dir), 0, 0)
	dlink := filepath.Join(base, "dlink")
	os.Symlink(dir, dlink)
	refused("a symbolic link to a dir", CheckDir(dlink), "is a symbolic link")
	refused("MkdirAll over another user's dir", func() error {
		d := filepath.Join(base, "theirs")
		os.Mkdir(d, 0o700)
		os.Chown(d, 65534, 65534)
		return MkdirAll(d, 0o700)
	}(), "belongs to uid 65534")
}
