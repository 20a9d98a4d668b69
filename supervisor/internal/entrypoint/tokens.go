package entrypoint

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
		return os.Chown(path, uid, gid)
	}
	return nil
}
