package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/terok-ai/terok-in-docker/daemons/kit/atomicfile"
)

// InstanceFile keeps this terok's short id, below the state dir.
func InstanceFile(stateDir string) string { return filepath.Join(stateDir, "web", "instance") }

// Instance returns this terok's short id (8 hex digits, made once and
// kept in InstanceFile): it names the cookies, so two terok instances on
// one host name keep their logins apart.
func Instance(stateDir string) (string, error) {
	f := InstanceFile(stateDir)
	b, err := os.ReadFile(f)
	if err == nil {
		id := strings.TrimSpace(string(b))
		if validInstance(id) {
			return id, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", f, err)
	}
	raw := make([]byte, 4)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	id := hex.EncodeToString(raw)
	if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", filepath.Dir(f), err)
	}
	if err := atomicfile.WriteFile(f, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", f, err)
	}
	return id, nil
}

func validInstance(id string) bool {
	if len(id) != 8 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}
