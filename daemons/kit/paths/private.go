package paths

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ErrUnsafeRunDir marks a run directory in /tmp (the last fallback of
// RunDir) that is not safely this user's: anybody may create
// /tmp/terok-<uid> first and catch the sockets made or dialled there.
var ErrUnsafeRunDir = errors.New("unsafe run directory")

// tmpRunDir is RunDir's fallback for a user without XDG_RUNTIME_DIR.
func tmpRunDir(uid int) string { return fmt.Sprintf("/tmp/terok-%d", uid) }

// isTmpFallback reports whether dir is this process's /tmp fallback.
func isTmpFallback(dir string) bool {
	uid := os.Geteuid()
	return uid != 0 && filepath.Clean(dir) == tmpRunDir(uid)
}

// PrepareSocketDir makes the directory of a socket about to listen. The
// /tmp fallback of RunDir is created mode 0700, and an existing one must be
// this user's own directory of mode 0700 (ErrUnsafeRunDir otherwise);
// any other directory is created (0755) when missing, as before.
func PrepareSocketDir(dir string) error {
	if isTmpFallback(dir) {
		return private(dir, os.Geteuid(), true)
	}
	return os.MkdirAll(dir, 0o755)
}

// CheckSocketDir is PrepareSocketDir for a client about to dial: the /tmp
// fallback, when it exists, must be this user's own directory of mode
// 0700; nothing is created.
func CheckSocketDir(dir string) error {
	if isTmpFallback(dir) {
		return private(dir, os.Geteuid(), false)
	}
	return nil
}

// private checks (looking at dir itself, never through a symlink) that dir
// is a directory of uid's with mode 0700, creating it when create is set
// and it is missing.
func private(dir string, uid int, create bool) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if !create {
			return nil
		}
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create run directory %s: %w", dir, err)
		}
		fi, err = os.Lstat(dir)
	}
	if err != nil {
		return fmt.Errorf("inspect run directory %s: %w", dir, err)
	}
	const fix = "set TEROK_RUN_DIR (or XDG_RUNTIME_DIR) to a private directory of your own"
	switch st, _ := fi.Sys().(*syscall.Stat_t); {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: %s is a symlink, not a directory of yours (somebody may have put it there to catch terok's sockets); remove it, or %s", ErrUnsafeRunDir, dir, fix)
	case !fi.IsDir():
		return fmt.Errorf("%w: %s is not a directory; remove it, or %s", ErrUnsafeRunDir, dir, fix)
	case st == nil || int(st.Uid) != uid:
		owner := -1
		if st != nil {
			owner = int(st.Uid)
		}
		return fmt.Errorf("%w: %s belongs to uid %d, not to you (uid %d): another user may have made it to catch terok's sockets; %s (or have it removed if it is stale)", ErrUnsafeRunDir, dir, owner, uid, fix)
	case fi.Mode().Perm() != 0o700:
		return fmt.Errorf("%w: %s has mode %04o, not 0700, so others could reach or replace terok's sockets in it; chmod 0700 %s, or %s", ErrUnsafeRunDir, dir, fi.Mode().Perm(), dir, fix)
	}
	return nil
}
