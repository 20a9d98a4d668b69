package startup

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func me(t *testing.T) Identity {
	t.Helper()
	id, err := Resolve("")
	if os.Geteuid() == 0 {
		id = Identity{Name: "root", UID: 0, GID: 0}
		err = nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestEnsureDir(t *testing.T) {
	base := t.TempDir()
	id := me(t)
	dir := filepath.Join(base, "system", "vault")
	if _, err := EnsureDir(dir, id); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	os.Chmod(dir, 0o755)
	changed, err := EnsureDir(dir, id)
	if err != nil || len(changed) != 1 || !strings.Contains(changed[0], "now 0700") {
		t.Errorf("tighten: %v %v", changed, err)
	}
	// A symlink in its place is refused and left.
	link := filepath.Join(base, "system", "linked")
	os.Symlink(dir, link)
	if _, err := EnsureDir(link, id); !errors.Is(err, ErrUnsafeDir) || !strings.Contains(err.Error(), link) {
		t.Errorf("symlink: %v", err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the symlink was replaced")
	}
	// Another user's directory is refused.
	other := Identity{Name: "someone-else", UID: id.UID + 1, GID: id.GID}
	if os.Geteuid() == 0 {
		// As root a directory of root's is handed over; one of a third
		// user is not.
		os.Chown(dir, 54321, 54321)
		other.UID = 65534
	}
	if _, err := EnsureDir(dir, other); !errors.Is(err, ErrUnsafeDir) || !strings.Contains(err.Error(), "chown -R someone-else") {
		t.Errorf("foreign owner: %v", err)
	}
	if os.Geteuid() == 0 {
		root := filepath.Join(base, "system", "rootowned")
		os.Mkdir(root, 0o700)
		if changed, err := EnsureDir(root, other); err != nil || len(changed) != 1 {
			t.Errorf("root's dir: %v %v", changed, err)
		}
		if fi, _ := os.Stat(root); fi.Sys().(*syscall.Stat_t).Uid != 65534 {
			t.Error("root's directory was not handed to the vault's user")
		}
	}
}

func TestResolve(t *testing.T) {
	if os.Geteuid() == 0 {
		if _, err := Resolve(""); !errors.Is(err, ErrUser) {
			t.Errorf("root without a user: %v", err)
		}
		if _, err := Resolve("root"); !errors.Is(err, ErrUser) {
			t.Errorf("root as the user: %v", err)
		}
		if id, err := Resolve("nobody"); err != nil || id.UID == 0 {
			t.Errorf("nobody: %+v %v", id, err)
		}
		return
	}
	if _, err := Resolve("root"); !errors.Is(err, ErrUser) {
		t.Errorf("switching users without root: %v", err)
	}
}
