package entrypoint

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/terok-ai/terok-in-docker/daemons/kit/accesstoken"
	"github.com/terok-ai/terok-in-docker/daemons/kit/atomicfile"
)

// Token sources, as the banner names them.
const (
	FromEnv     = "environment"
	FromStored  = "stored"
	FromCreated = "generated"
)

// Token is a settled secret and where it came from.
type Token struct {
	Value  string
	Source string // FromEnv, FromStored or FromCreated
	Path   string // where it is kept (empty for FromEnv)
}

// ValidToken reports why tok cannot serve as a token (nil when it can):
// kit/accesstoken's rule, which terok-web applies to its token too.
func ValidToken(tok string) error { return accesstoken.Check(tok) }

// NewToken returns prefix followed by 32 random hex digits.
func NewToken(prefix string) (string, error) { return accesstoken.New(prefix) }

// MoveToken renames the token file old to path when path does not exist
// yet (a volume of an earlier version kept the web token under another
// name), so the token it holds stays the same. It renames whatever is
// there without following it; SettleToken then refuses anything that is
// not a regular file of the user's.
func MoveToken(old, path string) error {
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		return nil // there already (or unreadable: SettleToken says so)
	}
	if _, err := os.Lstat(old); err != nil {
		return nil
	}
	if err := os.Rename(old, path); err != nil {
		return fmt.Errorf("move the token %s to %s: %w", old, path, err)
	}
	return nil
}

// SettleToken decides a token: the value of the environment variable
// envName (envValue) when set; else the one kept at path; else a new one
// (prefix + 32 hex digits) written there atomically with mode 0600 and
// owned by uid:gid. A given or stored token that fails ValidToken is an
// error naming the variable or file and the fix. path lies in a directory
// the user uid owns, and the entrypoint runs as root: the stored file is
// read only when it is a regular file of uid's (or root's), never through
// a symlink, and its directory is never a symlink either — so the user
// cannot make root read, print or chown another file.
func SettleToken(envName, envValue, path, prefix string, uid, gid int) (Token, error) {
	if v := strings.TrimSpace(envValue); v != "" {
		if err := ValidToken(v); err != nil {
			return Token{}, fmt.Errorf("%w: %s %v; unset it to have one generated", ErrBadToken, envName, err)
		}
		return Token{Value: v, Source: FromEnv}, nil
	}
	b, err := readOwned(path, uid)
	switch {
	case err == nil:
		v := strings.TrimSpace(string(b))
		if verr := ValidToken(v); verr != nil {
			return Token{}, fmt.Errorf("%w: token file %s: %v; delete it to have a new one generated, or set %s", ErrBadToken, path, verr, envName)
		}
		return Token{Value: v, Source: FromStored, Path: path}, nil
	case !errors.Is(err, os.ErrNotExist):
		return Token{}, fmt.Errorf("read token %s: %w", path, err)
	}
	v, err := NewToken(prefix)
	if err != nil {
		return Token{}, err
	}
	if err := userDir(filepath.Dir(path), uid, gid); err != nil {
		return Token{}, fmt.Errorf("store token: %w", err)
	}
	if err := WriteFile(path, []byte(v+"\n"), 0o600, uid, gid); err != nil {
		return Token{}, fmt.Errorf("store token: %w", err)
	}
	return Token{Value: v, Source: FromCreated, Path: path}, nil
}

// WriteFile writes data to path atomically (kit/atomicfile) with mode
// perm, then gives it to uid:gid (uid -1: keep the writer's).
func WriteFile(path string, data []byte, perm os.FileMode, uid, gid int) error {
	if err := atomicfile.WriteFile(path, data, perm); err != nil {
		return err
	}
	if uid >= 0 {
		return os.Lchown(path, uid, gid)
	}
	return nil
}

// readOwned reads a small regular file that belongs to uid or root,
// without following a symlink at path.
func readOwned(path string, uid int) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("%w: %s is a symlink; the token file must be a file of its own: remove the link", ErrBadToken, path)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%w: %s is not a regular file; remove it", ErrBadToken, path)
	}
	if int(st.Uid) != uid && st.Uid != 0 {
		return nil, fmt.Errorf("%w: %s belongs to uid %d, not to uid %d who keeps it; remove it to have a new one generated", ErrBadToken, path, st.Uid, uid)
	}
	return io.ReadAll(io.LimitReader(f, 4096))
}

// userDir makes dir (mode 0700 when created) belong to uid:gid, refusing a
// symlink in its place.
func userDir(dir string, uid, gid int) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		fi, err = os.Lstat(dir)
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory (a symlink?); remove it and start again", dir)
	}
	return os.Lchown(dir, uid, gid)
}
