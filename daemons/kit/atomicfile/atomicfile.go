// Package atomicfile replaces files durably: a reader sees the old content
// or the new, never a torn mix, and a crash right after a write returns
// keeps the new content (file and directory are both synced).
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile replaces path with data: a temp file in the same directory,
// written, synced and given mode, renamed over path, then the directory
// synced. On any failure path is untouched and the temp file removed.
func WriteFile(path string, data []byte, mode os.FileMode) error {
	r, err := os.OpenRoot(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("create temp file for %s: %w", path, err)
	}
	defer r.Close()
	return writeIn(r, filepath.Base(path), path, data, mode)
}

// WriteJSON replaces path with v as indented JSON and a final newline.
func WriteJSON(path string, v any, mode os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return WriteFile(path, append(b, '\n'), mode)
}

// SyncDir makes the entries of dir (a rename, a new file) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// WriteFileIn is WriteFile for the file name inside the directory r:
// every step goes through r, so it works after the process lost the right
// to reach r by its path (a daemon that opened its directory and then
// dropped root) and never leaves r.
func WriteFileIn(r *os.Root, name string, data []byte, mode os.FileMode) error {
	return writeIn(r, name, name, data, mode)
}

// writeIn is the write through r of the file name, which messages call
// shown (its whole path, or the name inside r).
func writeIn(r *os.Root, name, shown string, data []byte, mode os.FileMode) error {
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return fmt.Errorf("temp name for %s: %w", shown, err)
	}
	tmp := filepath.Join(filepath.Dir(name), "."+filepath.Base(name)+".tmp-"+hex.EncodeToString(rnd[:]))
	f, err := r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create temp file for %s: %w", shown, err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			r.Remove(tmp)
		}
	}()
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := r.Rename(tmp, name); err != nil {
		return fmt.Errorf("replace %s: %w", shown, err)
	}
	ok = true
	return SyncDirIn(r, filepath.Dir(name))
}

// WriteJSONIn is WriteJSON for the file name inside the directory r.
func WriteJSONIn(r *os.Root, name string, v any, mode os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	return WriteFileIn(r, name, append(b, '\n'), mode)
}

// SyncDirIn makes the entries of the directory name inside r durable.
func SyncDirIn(r *os.Root, name string) error {
	d, err := r.Open(name)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", name, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", name, err)
	}
	return nil
}
