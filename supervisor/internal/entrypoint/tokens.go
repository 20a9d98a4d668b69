package entrypoint

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// ValidToken reports why tok cannot serve as a token (nil when it can): at
// least 16 characters that need no escaping in a URL. The gate applies the
// same rule to its admin token.
func ValidToken(tok string) error {
	if len(tok) < 16 {
		return errors.New("shorter than 16 characters")
	}
	if strings.Trim(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-") != "" {
		return errors.New("may only hold letters, digits, '.', '_', '~' and '-' (it is used in URLs)")
	}
	return nil
}

// NewToken returns prefix followed by 32 random hex digits.
func NewToken(prefix string) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return prefix + hex.EncodeToString(b[:]), nil
}

// SettleToken decides a token: the value of the environment variable
// envName (envValue) when set; else the one kept at path; else a new one
// (prefix + 32 hex digits) written there atomically with mode 0600 and
// owned by uid:gid. A given or stored token that fails ValidToken is an
// error naming the variable or file and the fix.
func SettleToken(envName, envValue, path, prefix string, uid, gid int) (Token, error) {
	if v := strings.TrimSpace(envValue); v != "" {
		if err := ValidToken(v); err != nil {
			return Token{}, fmt.Errorf("%w: %s %v; unset it to have one generated", ErrBadToken, envName, err)
		}
		return Token{Value: v, Source: FromEnv}, nil
	}
	b, err := os.ReadFile(path)
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
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return Token{}, fmt.Errorf("store token: %w", err)
	}
	if err := os.Chown(filepath.Dir(path), uid, gid); err != nil {
		return Token{}, fmt.Errorf("store token: %w", err)
	}
	if err := writeFileAtomic(path, []byte(v+"\n"), 0o600, uid, gid); err != nil {
		return Token{}, fmt.Errorf("store token: %w", err)
	}
	return Token{Value: v, Source: FromCreated, Path: path}, nil
}

// writeFileAtomic writes data to a temporary file beside path, fsyncs it,
// sets its owner, renames it over path and fsyncs the directory.
// (kit/atomicfile does the same once it lands; it knows no owner.)
func writeFileAtomic(path string, data []byte, perm os.FileMode, uid, gid int) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if uid >= 0 {
		if err := f.Chown(uid, gid); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// WriteFile writes data to path atomically with mode perm, owned by
// uid:gid (uid -1: keep the writer's).
func WriteFile(path string, data []byte, perm os.FileMode, uid, gid int) error {
	return writeFileAtomic(path, data, perm, uid, gid)
}
