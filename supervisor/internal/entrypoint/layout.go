package entrypoint

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// SystemDir is the subtree of the config and state volumes that belongs to
// root (and the vault's own user) and is never handed to the unprivileged
// user: what root daemons read from a volume lives there, out of reach of
// the user whose processes (rootless Podman, terok-web, terok-gate) a
// hostile agent may come to control.
const SystemDir = "system"

// Owner is a uid:gid pair.
type Owner struct{ UID, GID int }

// root owns SystemDir and the shield's directories.
var root = Owner{0, 0}

// System describes the subtree to prepare in one volume.
type System struct {
	// Volume is the volume's directory (TEROK_CONFIG_DIR or TEROK_STATE_DIR).
	Volume string
	// Vault, when set, is the vault's user: <volume>/system/vault is made
	// its own, mode 0700. Nil leaves any vault directory as it is.
	Vault *Owner
	// Log receives one line per change worth telling (a move, a removed
	// link); nil drops them.
	Log func(string)
}

// Prepare makes, in s.Volume:
//
//	system/         root:root 0755
//	system/shield/  root:root 0700   (an old <volume>/shield is moved here once)
//	system/vault/   vault:vault 0700 (only with s.Vault)
//
// It refuses, naming the path and the fix, a symlink or non-directory in
// any of these places, a system/ or system/shield/ that belongs to anyone
// but root (another user may have put anything in it), a vault directory
// of another user, and an old shield directory when the new one exists
// too. It never follows a symlink: ownership and modes are set through
// directories opened with O_NOFOLLOW.
func (s System) Prepare() error {
	logf := func(format string, a ...any) {
		if s.Log != nil {
			s.Log(fmt.Sprintf(format, a...))
		}
	}
	if err := realDir(s.Volume); err != nil {
		return err
	}
	sys := filepath.Join(s.Volume, SystemDir)
	if err := ensureDir(sys, root, 0o755, true); err != nil {
		return err
	}
	shield := filepath.Join(sys, "shield")
	if err := moveOld(filepath.Join(s.Volume, "shield"), shield, logf); err != nil {
		return err
	}
	if err := ensureDir(shield, root, 0o700, true); err != nil {
		return err
	}
	if s.Vault != nil {
		if err := ensureDir(filepath.Join(sys, "vault"), *s.Vault, 0o700, false); err != nil {
			return err
		}
	}
	return nil
}

// realDir requires dir to be a directory and not a symlink.
func realDir(dir string) error {
	fi, err := os.Lstat(dir)
	switch {
	case err != nil:
		return fmt.Errorf("volume %s: %w", dir, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("volume %s is a symlink; terok's volumes must be directories or mount points: remove the link and start again", dir)
	case !fi.IsDir():
		return fmt.Errorf("volume %s is not a directory; remove it or mount a directory there", dir)
	}
	return nil
}

// ensureDir makes dir a directory owned by o with mode perm. A missing one
// is created. An existing one must be a directory (not a symlink) owned
// by o or by root; with strict, only o will do (a root-owned place that
// anybody else owns may hold anything).
func ensureDir(dir string, o Owner, perm os.FileMode, strict bool) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(dir, perm); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create %s: %w", dir, err)
		}
		fi, err = os.Lstat(dir)
	}
	if err != nil {
		return fmt.Errorf("inspect %s: %w", dir, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symlink; terok never follows one there (it must be a directory of its own): remove it (rm %s) and start again", dir, dir)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory; remove it and start again", dir)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("inspect %s: %w", dir, err)
	}
	own := int(st.Uid)
	if own != o.UID && (strict || own != 0) {
		chown := fmt.Sprintf("%d:%d", o.UID, o.GID)
		if o.UID == 0 {
			chown = "root:root"
		}
		return fmt.Errorf("%s belongs to uid %d, not %s: another user may have put anything in it, and terok's privileged daemons read it. Check what it holds, then give it to %s (chown -R %s %s) or remove it, and start again",
			dir, own, ownerName(o), ownerName(o), chown, dir)
	}
	if own != o.UID || int(st.Gid) != o.GID {
		if err := unix.Fchown(fd, o.UID, o.GID); err != nil {
			return fmt.Errorf("chown %s: %w", dir, err)
		}
	}
	if os.FileMode(st.Mode&0o7777) != perm {
		if err := unix.Fchmod(fd, uint32(perm)); err != nil {
			return fmt.Errorf("chmod %s: %w", dir, err)
		}
	}
	return nil
}

func ownerName(o Owner) string {
	if o.UID == 0 {
		return "root"
	}
	return fmt.Sprintf("uid %d", o.UID)
}

// moveOld moves the directory old to new (an atomic rename within the
// volume) when old exists and new does not, then gives what it holds to
// root, writable by root alone: the files were the unprivileged user's,
// so anything but
// directories and regular files (a symlink, a fifo) is removed, each
// named in the log. Both existing is an error naming both.
func moveOld(old, new string, logf func(string, ...any)) error {
	ofi, err := os.Lstat(old)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect %s: %w", old, err)
	}
	if _, err := os.Lstat(new); err == nil {
		return fmt.Errorf("both %s (where the shield's files were kept before) and %s exist: they were moved at an earlier start. Keep what you need in %s, remove %s, and start again", old, new, new, old)
	}
	if ofi.Mode()&fs.ModeSymlink != 0 || !ofi.IsDir() {
		return fmt.Errorf("%s is not a directory (a symlink?); it cannot be moved to %s: remove it and start again", old, new)
	}
	if err := os.Rename(old, new); err != nil {
		return fmt.Errorf("move %s to %s: %w", old, new, err)
	}
	logf("moved %s to %s (root's alone from now on)", old, new)
	return filepath.WalkDir(new, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			logf("removed %s from the moved directory: a %s has no place there", p, kindOf(d.Type()))
			return os.Remove(p)
		}
		if err := os.Lchown(p, 0, 0); err != nil {
			return err
		}
		// The shield refuses anything group- or world-writable.
		info, err := d.Info()
		if err != nil {
			return err
		}
		if m := info.Mode().Perm(); m&0o022 != 0 {
			return os.Chmod(p, m&^0o022)
		}
		return nil
	})
}

func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}
