package entrypoint

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

func ownerOf(t *testing.T, p string) int {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return int(st.Sys().(*syscall.Stat_t).Uid)
}

// TestOwnDir hands directories to another uid the way the entrypoint
// treats the image's volumes (needs root to chown).
func TestOwnDir(t *testing.T) {
	testkit.RequireRoot(t)
	const uid, gid = 54321, 54321
	home := t.TempDir()

	t.Run("missing directory and parents are created owned", func(t *testing.T) {
		dir := filepath.Join(home, ".local", "share", "terok")
		changed, err := OwnDir(dir, home, uid, gid, true)
		if err != nil || changed {
			t.Fatalf("changed=%v err=%v", changed, err)
		}
		for _, p := range []string{filepath.Join(home, ".local"), filepath.Join(home, ".local", "share"), dir} {
			if ownerOf(t, p) != uid {
				t.Errorf("%s is owned by %d, want %d", p, ownerOf(t, p), uid)
			}
		}
		if ownerOf(t, home) == uid {
			t.Errorf("the stop directory itself was given away")
		}
	})
	t.Run("a foreign mount is handed over with its content", func(t *testing.T) {
		dir := filepath.Join(home, "config")
		os.MkdirAll(filepath.Join(dir, "projects"), 0o755)
		os.WriteFile(filepath.Join(dir, "projects", "p.json"), []byte("{}"), 0o644)
		os.Symlink("/etc/passwd", filepath.Join(dir, "link"))
		changed, err := OwnDir(dir, home, uid, gid, true)
		if err != nil || !changed {
			t.Fatalf("changed=%v err=%v", changed, err)
		}
		for _, p := range []string{dir, filepath.Join(dir, "projects", "p.json"), filepath.Join(dir, "link")} {
			if ownerOf(t, p) != uid {
				t.Errorf("%s is owned by %d, want %d", p, ownerOf(t, p), uid)
			}
		}
		if ownerOf(t, "/etc/passwd") != 0 {
			t.Fatal("a symlink's target was chowned")
		}
	})
	t.Run("containers storage: only the top, sub-id owners kept", func(t *testing.T) {
		dir := filepath.Join(home, "containers")
		os.MkdirAll(filepath.Join(dir, "storage"), 0o755)
		os.Chown(filepath.Join(dir, "storage"), 100999, 100999)
		if _, err := OwnDir(dir, home, uid, gid, false); err != nil {
			t.Fatal(err)
		}
		if ownerOf(t, dir) != uid || ownerOf(t, filepath.Join(dir, "storage")) != 100999 {
			t.Errorf("top %d (want %d), storage %d (want 100999)", ownerOf(t, dir), uid, ownerOf(t, filepath.Join(dir, "storage")))
		}
	})
	t.Run("an owned directory is left alone", func(t *testing.T) {
		dir := filepath.Join(home, "share")
		os.MkdirAll(filepath.Join(dir, "shield"), 0o700)
		os.Chown(dir, uid, gid) // shield state below stays root's
		changed, err := OwnDir(dir, home, uid, gid, true)
		if err != nil || changed {
			t.Fatalf("changed=%v err=%v", changed, err)
		}
		if ownerOf(t, filepath.Join(dir, "shield")) != 0 {
			t.Errorf("a root-owned directory inside an owned volume was chowned")
		}
	})
}

func TestEmptyDir(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a", "b"), 0o700)
	os.WriteFile(filepath.Join(dir, "x.sock"), nil, 0o600)
	if err := EmptyDir(dir); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left %v", entries)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the directory itself went: %v", err)
	}
	if err := EmptyDir(filepath.Join(dir, "missing")); err != nil {
		t.Fatalf("missing dir: %v", err)
	}
}
