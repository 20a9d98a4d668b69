package trust

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// enforced is true when the daemon runs as root: only then must what it
// reads belong to root.
var enforced = os.Geteuid() == 0

// Enforced reports whether ownership is checked (the process is root).
func Enforced() bool { return enforced }

// kind says what a path is for in error messages, and which mode the fix
// suggests.
type kind int

const (
	dir    kind = iota // a directory of the shield's own: chmod 0700
	parent             // the directory holding one: chmod 0755
	file               // a file: chmod 0600
)

func (k kind) fix(path string) string {
	mode := map[kind]string{dir: "0700", parent: "0755", file: "0600"}[k]
	return fmt.Sprintf("chown root:root %s && chmod %s %s", path, mode, path)
}

// refuse builds the error for path: what is wrong and the command that
// fixes it.
func refuse(k kind, path, why string) error {
	return fmt.Errorf("%s %s (fix: %s): %w", path, why, k.fix(path), ErrUntrusted)
}

// check applies the rules to what fstat or lstat said of path.
func check(k kind, path string, st *unix.Stat_t) error {
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return refuse(k, path, "is a symbolic link")
	case k != file && st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return refuse(k, path, "is not a directory")
	case k == file && st.Mode&unix.S_IFMT != unix.S_IFREG:
		return refuse(k, path, "is not a regular file")
	}
	if !enforced {
		return nil
	}
	if st.Uid != 0 {
		return refuse(k, path, fmt.Sprintf("belongs to uid %d, not root", st.Uid))
	}
	if perm := st.Mode & 0o7777; perm&0o022 != 0 {
		return refuse(k, path, fmt.Sprintf("is writable by others than root (mode %04o)", perm))
	}
	return nil
}

func lcheck(k kind, path string) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	return check(k, path, &st)
}

// CheckDir checks a directory the shield reads from: not a symbolic link,
// and, as root, owned by root and writable by root alone. A missing
// directory is an error that matches os.ErrNotExist.
func CheckDir(path string) error { return lcheck(dir, path) }

// CheckTree checks path as CheckDir does and its parent the same way
// (whoever may write the parent may swap path for a directory of its own).
func CheckTree(path string) error {
	if err := lcheck(parent, filepath.Dir(filepath.Clean(path))); err != nil {
		return err
	}
	return CheckDir(path)
}

// MkdirAll makes path (mode, root's when the process is root) and any
// missing parent (0755), then checks it with CheckTree.
func MkdirAll(path string, mode os.FileMode) error {
	path = filepath.Clean(path)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	if err := os.Mkdir(path, mode); err == nil {
		// Mkdir is subject to the umask; the mode asked for is the mode meant.
		if err := os.Chmod(path, mode); err != nil {
			return fmt.Errorf("chmod %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return CheckTree(path)
}

// Open opens a file the shield reads: never through a symbolic link, only
// a regular file, and, as root, only one owned by root and writable by
// root alone. A missing file is an error that matches os.ErrNotExist.
func Open(path string) (*os.File, error) {
	// O_NONBLOCK: a FIFO planted in the file's place must not hang the
	// open; it is refused below as not a regular file.
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, refuse(file, path, "is a symbolic link")
		}
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if err := check(file, path, &st); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ReadFile reads a file as Open allows, up to limit bytes (a longer file
// is an error).
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}
