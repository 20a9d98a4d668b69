package startup

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Identity is the user the vault runs as.
type Identity struct {
	Name     string
	UID, GID int
}

// Resolve decides who the vault runs as. Started as root it needs a user
// to drop to (name), and refuses root itself; started as anybody else it
// runs as that user, and name, when given, must be that user.
func Resolve(name string) (Identity, error) {
	euid := os.Geteuid()
	if euid != 0 {
		me, err := user.LookupId(strconv.Itoa(euid))
		if err != nil {
			return Identity{}, fmt.Errorf("%w: who am I (uid %d): %v", ErrUser, euid, err)
		}
		if name != "" && name != me.Username && name != me.Uid {
			return Identity{}, fmt.Errorf("%w: asked to run as %s, but started as %s; start the vault as root to have it switch to %s", ErrUser, name, me.Username, name)
		}
		return Identity{Name: me.Username, UID: euid, GID: os.Getegid()}, nil
	}
	if name == "" {
		return Identity{}, fmt.Errorf("%w: started as root, the vault needs a user of its own to run as: --user terok-vault (or TEROK_VAULT_USER); create it with useradd --system terok-vault", ErrUser)
	}
	u, err := user.Lookup(name)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %s: %v; create it with useradd --system %s", ErrUser, name, err, name)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if uid == 0 {
		return Identity{}, fmt.Errorf("%w: %s is root; the vault runs as a user of its own", ErrUser, name)
	}
	return Identity{Name: u.Username, UID: uid, GID: gid}, nil
}

// GroupID returns the id of a group name (or number).
func GroupID(name string) (int, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		if n, nerr := strconv.Atoi(name); nerr == nil {
			return n, nil
		}
		return 0, fmt.Errorf("%w: socket group %s: %v", ErrUser, name, err)
	}
	return strconv.Atoi(g.Gid)
}

// EnsureDir makes dir the vault's own: created with mode 0700 for id when
// missing (its missing parents 0755, owned by whoever runs this: root's
// system/ as root), else checked. A symlink, a non-directory or a
// directory of another user is refused naming it and what to do, and
// left as it is; as root, a directory of root is handed to id. Group or
// other bits are taken away.
func EnsureDir(dir string, id Identity) (changed []string, err error) {
	if err := mkdirParents(filepath.Dir(dir)); err != nil {
		return nil, err
	}
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
		if os.Geteuid() == 0 {
			if err := os.Lchown(dir, id.UID, id.GID); err != nil {
				return nil, fmt.Errorf("chown %s: %w", dir, err)
			}
		}
		return []string{"created " + dir}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", dir, err)
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return nil, fmt.Errorf("%w: %s is a symlink; the vault keeps its files in a real directory of its own: check where it points, then remove the link", ErrUnsafeDir, dir)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a directory; move it away", ErrUnsafeDir, dir)
	}
	owner := int(fi.Sys().(*syscall.Stat_t).Uid)
	switch {
	case owner == id.UID:
	case owner == 0 && os.Geteuid() == 0:
		if err := os.Lchown(dir, id.UID, id.GID); err != nil {
			return nil, fmt.Errorf("chown %s: %w", dir, err)
		}
		changed = append(changed, fmt.Sprintf("%s handed from root to %s", dir, id.Name))
	default:
		return nil, fmt.Errorf("%w: %s belongs to uid %d, not the vault's user %s (uid %d): another user could have put a key, a store or a provider there; check its content, then chown -R %s %s (or move it away)",
			ErrUnsafeDir, dir, owner, id.Name, id.UID, id.Name, dir)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("chmod 0700 %s: %w", dir, err)
		}
		changed = append(changed, fmt.Sprintf("%s was mode %04o, now 0700", dir, fi.Mode().Perm()))
	}
	return changed, nil
}

// OpenDir opens dir (checked by EnsureDir) and checks again, through the
// opened handle, that it is the vault's own: what was checked by its path
// is what is used, even if a parent was swapped in between.
func OpenDir(dir string, id Identity) (*os.Root, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	fi, err := r.Stat(".")
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("inspect %s: %w", dir, err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != id.UID || fi.Mode().Perm()&0o077 != 0 {
		r.Close()
		return nil, fmt.Errorf("%w: %s changed while the vault opened it (now not %s's, or open to others); check who changes it", ErrUnsafeDir, dir, id.Name)
	}
	return r, nil
}

// mkdirParents creates dir and its missing parents with mode 0755 (as
// root: root's system/ directory of the shared layout).
func mkdirParents(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return nil
}

// Drop makes the process id for good: no supplementary groups, then its
// group, then its user. The syscall package applies each to every thread
// of the process. It checks that root cannot be had back.
func Drop(id Identity) error {
	if os.Geteuid() != 0 {
		return nil
	}
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("drop supplementary groups: %w", err)
	}
	if err := syscall.Setresgid(id.GID, id.GID, id.GID); err != nil {
		return fmt.Errorf("setgid %d: %w", id.GID, err)
	}
	if err := syscall.Setresuid(id.UID, id.UID, id.UID); err != nil {
		return fmt.Errorf("setuid %d: %w", id.UID, err)
	}
	if syscall.Setuid(0) == nil || os.Geteuid() != id.UID {
		return errors.New("dropping root did not hold; refusing to run")
	}
	return nil
}

// SameFilesystem reports whether a and b are on one filesystem (device).
func SameFilesystem(a, b string) bool {
	var sa, sb unix.Stat_t
	if unix.Stat(a, &sa) != nil || unix.Stat(b, &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev
}
