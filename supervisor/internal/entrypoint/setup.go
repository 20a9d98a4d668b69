package entrypoint

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// OwnDir makes dir exist and belong to uid:gid. Missing parents up to (not
// including) stop are created with that owner too. When dir exists but
// belongs to someone else (a fresh bind mount from the host), its top is
// given to uid:gid, and with recursive also everything below it. A
// directory already owned by uid is left alone, so files inside it that
// rootless Podman gave to sub-ids keep their owners. The paths in skip
// (root's SystemDir of a volume) are never handed over, nor is anything
// below them. It reports whether it changed an owner.
func OwnDir(dir, stop string, uid, gid int, recursive bool, skip ...string) (bool, error) {
	if err := mkdirOwned(dir, stop, uid, gid); err != nil {
		return false, err
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return false, err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || int(sys.Uid) == uid {
		return false, nil
	}
	if !recursive {
		return true, os.Lchown(dir, uid, gid)
	}
	return true, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		for _, s := range skip {
			if p == s {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil // a link or file there is refused by System.Prepare
			}
		}
		return os.Lchown(p, uid, gid)
	})
}

// mkdirOwned creates dir and its missing parents below stop, each owned by
// uid:gid with mode 0755.
func mkdirOwned(dir, stop string, uid, gid int) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir && parent != stop && strings.HasPrefix(parent, stop) {
		if err := mkdirOwned(parent, stop, uid, gid); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return os.Lchown(dir, uid, gid)
}

// Device is a character device rootless Podman needs in the container.
type Device struct {
	Path         string
	Major, Minor uint32
}

// Devices rootless Podman uses: pasta and slirp4netns need the tun device,
// fuse-overlayfs needs fuse.
var Devices = []Device{{"/dev/net/tun", 10, 200}, {"/dev/fuse", 10, 229}}

// OpenDevice makes d exist (mknod when missing, which a privileged
// container may do) and mode 0666 so the unprivileged user can open it.
func OpenDevice(d Device) error {
	if _, err := os.Stat(d.Path); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(d.Path), 0o755); err != nil {
			return err
		}
		if err := unix.Mknod(d.Path, unix.S_IFCHR|0o666, int(unix.Mkdev(d.Major, d.Minor))); err != nil {
			return fmt.Errorf("%s is missing and cannot be created (%v); run the container with --privileged or --device %s", d.Path, err, d.Path)
		}
	}
	if err := os.Chmod(d.Path, 0o666); err != nil {
		return fmt.Errorf("chmod 0666 %s: %w", d.Path, err)
	}
	return nil
}

// EmptyDir removes everything inside dir (not dir itself, which may be a
// mount point); a missing dir is fine. Mounts inside it are not crossed:
// their removal fails and is reported.
func EmptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// RunDirMode is the mode of the sockets' directory in the image, 01775:
// the group (the unprivileged user's) may create entries, and the sticky
// bit lets only an entry's owner (or the directory's, root) remove or
// replace it.
const RunDirMode = unix.S_ISVTX | 0o775

// RunDir makes dir (TEROK_RUN_DIR) a directory of root's, group gid, mode
// RunDirMode. A symlink in its place is refused.
func RunDir(dir string, gid int) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
		fi, err = os.Lstat(dir)
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory (a symlink?); remove it and start again", dir)
	}
	return fixDir(dir, 0, gid, RunDirMode)
}

// LogDir makes dir (TEROK_LOG_DIR) a directory of root's, mode 0700.
func LogDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory (a symlink?); remove it and start again", dir)
	}
	return fixDir(dir, 0, 0, 0o700)
}

// fixDir sets owner and mode of the directory dir, opened without
// following a symlink.
func fixDir(dir string, uid, gid int, mode uint32) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := unix.Fchown(fd, uid, gid); err != nil {
		return fmt.Errorf("chown %s: %w", dir, err)
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", dir, err)
	}
	return nil
}

// NoLinksBelow refuses a symlink at path or at any directory between stop
// (excluded) and path: those lie in directories the unprivileged user
// owns (its home), and root must not be led elsewhere through them.
func NoLinksBelow(path, stop string) error {
	p := filepath.Clean(path)
	stop = filepath.Clean(stop)
	for {
		fi, err := os.Lstat(p)
		if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s is a symlink; terok's volumes and the directories above them in %s must be real directories (or mount points): remove the link and start again", p, stop)
		}
		parent := filepath.Dir(p)
		if parent == p || parent == stop || !strings.HasPrefix(parent, stop+"/") {
			return nil
		}
		p = parent
	}
}
