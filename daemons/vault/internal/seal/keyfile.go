package seal

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/terok-ai/terok-in-docker/daemons/kit/atomicfile"
)

// maxKeyFile bounds what is read of a key file.
const maxKeyFile = 4096

// KeyFormat tells the operator how to write a key file.
const KeyFormat = "64 hex digits (openssl rand -hex 32), or 32 bytes in base64"

// Parse reads a master key written as 64 hex digits or as base64 of 32
// bytes, with surrounding white space. The error never holds the content.
func Parse(b []byte) ([]byte, error) {
	s := string(bytes.TrimSpace(b))
	if len(s) == 2*KeyLen {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == KeyLen {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%w: not a vault key (%d characters); a key is %s", ErrBadKeyFile, len(s), KeyFormat)
}

// Encode writes master as a key file's content: hex and a newline.
func Encode(master []byte) []byte {
	return []byte(hex.EncodeToString(master) + "\n")
}

// ReadGiven reads the key file an operator named (TEROK_VAULT_KEY_FILE, a
// Docker secret): it may be a symlink (secret mounts often are), must be
// a regular file of root or of this process's user that nobody else may
// write. A file other users may read is used with a warning (warn), since
// the key may already have been copied.
func ReadGiven(path string) (master []byte, warn string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %s: %v; TEROK_VAULT_KEY_FILE must name a readable key file", ErrBadKeyFile, path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, "", fmt.Errorf("%w: %s: %v", ErrBadKeyFile, path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, "", fmt.Errorf("%w: %s is not a regular file", ErrBadKeyFile, path)
	}
	uid := ownerOf(fi)
	if uid != 0 && uid != os.Geteuid() {
		return nil, "", fmt.Errorf("%w: %s belongs to uid %d, not root or the vault's user (uid %d): another user could have replaced it; chown root %s", ErrBadKeyFile, path, uid, os.Geteuid(), path)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return nil, "", fmt.Errorf("%w: %s may be written by other users (mode %04o): whoever changes it decides the key new secrets are sealed with; chmod 0400 %s", ErrBadKeyFile, path, fi.Mode().Perm(), path)
	}
	if fi.Mode().Perm()&0o044 != 0 {
		warn = fmt.Sprintf("the key file %s may be read by other users (mode %04o); make it 0400", path, fi.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, "", fmt.Errorf("%w: read %s: %v", ErrBadKeyFile, path, err)
	}
	master, err = Parse(b)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w; nothing was changed", path, err)
	}
	return master, warn, nil
}

// LoadOrCreate reads the key the vault keeps as name in its directory
// dir, or, when there is no file at all, generates one and writes it with
// mode 0600 (created reports that). Everything goes through dir, opened
// before the vault dropped root. An existing file is never replaced: a
// file that is not a key, a symlink, a file of another user or one others
// may read or write is refused, naming it, and left as it is.
func LoadOrCreate(dir *os.Root, name string) (master []byte, created bool, err error) {
	path := filepath.Join(dir.Name(), name)
	fi, err := dir.Lstat(name)
	if errors.Is(err, os.ErrNotExist) {
		return create(dir, name)
	}
	if err != nil {
		return nil, false, fmt.Errorf("%w: %s: %v", ErrBadKeyFile, path, err)
	}
	if err := checkKept(path, fi); err != nil {
		return nil, false, err
	}
	f, err := dir.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, false, fmt.Errorf("%w: open %s: %v", ErrBadKeyFile, path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, false, fmt.Errorf("%w: read %s: %v", ErrBadKeyFile, path, err)
	}
	master, err = Parse(b)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w; nothing was changed: restore the key the store was sealed with, or move %s and the store away to start with no secrets", path, err, path)
	}
	return master, false, nil
}

func checkKept(path string, fi os.FileInfo) error {
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("%w: %s is a symlink; the vault keeps its key as a plain file in its own directory (move the link away)", ErrBadKeyFile, path)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%w: %s is not a regular file", ErrBadKeyFile, path)
	case ownerOf(fi) != os.Geteuid():
		return fmt.Errorf("%w: %s belongs to uid %d, not the vault's user (uid %d); check who put it there, then chown it to the vault's user", ErrBadKeyFile, path, ownerOf(fi), os.Geteuid())
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("%w: %s may be read or written by other users (mode %04o); treat the key as seen: chmod 0600 %s and set the secrets anew", ErrBadKeyFile, path, fi.Mode().Perm(), path)
	}
	return nil
}

// create writes a new key as name only if nothing is there: the key goes
// to a temp file (0600, synced) which is then hard-linked to name, and a
// link never replaces an existing file.
func create(dir *os.Root, name string) ([]byte, bool, error) {
	master, err := Generate()
	if err != nil {
		return nil, false, err
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, false, err
	}
	tmp := ".vault-key-" + hex.EncodeToString(rnd[:])
	f, err := dir.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("create key file in %s: %w", dir.Name(), err)
	}
	defer dir.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, false, err
	}
	if _, err := f.Write(Encode(master)); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("write the new key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, false, err
	}
	if err := f.Close(); err != nil {
		return nil, false, err
	}
	if err := dir.Link(tmp, name); err != nil {
		if errors.Is(err, os.ErrExist) {
			m, _, err := LoadOrCreate(dir, name) // another start won the race
			return m, false, err
		}
		return nil, false, fmt.Errorf("create key file %s: %w", filepath.Join(dir.Name(), name), err)
	}
	return master, true, atomicfile.SyncDirIn(dir, ".")
}

func ownerOf(fi os.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}
