package providers

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

//go:embed shipped/*.provider
var shipped embed.FS

// Ext is the file name extension of provider files.
const Ext = ".provider"

// SourceShipped is the Source of a provider built into the vault.
const SourceShipped = "shipped"

// maxFile bounds a provider file.
const maxFile = 256 << 10

// Set is the providers the vault knows, by name.
type Set struct {
	byName map[string]*Provider
}

// Get returns the provider named name.
func (s *Set) Get(name string) (*Provider, error) {
	if p, ok := s.byName[name]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknown, name, strings.Join(s.Names(), ", "))
}

// Names lists the providers' names in order.
func (s *Set) Names() []string {
	out := make([]string, 0, len(s.byName))
	for n := range s.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// All lists the providers by name.
func (s *Set) All() []*Provider {
	var out []*Provider
	for _, n := range s.Names() {
		out = append(out, s.byName[n])
	}
	return out
}

// NewSet makes a set of the given providers (for tests and tools).
func NewSet(ps ...*Provider) *Set {
	s := &Set{byName: map[string]*Provider{}}
	for _, p := range ps {
		s.byName[p.Name] = p
	}
	return s
}

// Shipped returns the providers built into the vault.
func Shipped() (*Set, error) {
	s := &Set{byName: map[string]*Provider{}}
	entries, err := fs.ReadDir(shipped, "shipped")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		b, err := shipped.ReadFile("shipped/" + e.Name())
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(e.Name(), Ext)
		p, err := Parse(name, "shipped/"+e.Name(), b)
		if err != nil {
			return nil, err
		}
		p.Source = SourceShipped
		s.byName[name] = p
	}
	return s, nil
}

// Trust says which file owners may define providers: root and the vault's
// own user.
type Trust func(uid int) bool

// Load returns the shipped providers with root's files in the directory
// sub of dir over them (a file wins over a shipped provider of the same
// name); dir nil or no sub means no added providers. Everything is read
// through dir, opened before the vault dropped root. The directory and
// each file must be owned by a trusted user and writable by nobody else,
// and not be symlinks; any file with an error fails the whole load (fail
// closed), naming it.
func Load(dir *os.Root, sub string, trusted Trust) (*Set, error) {
	s, err := Shipped()
	if err != nil {
		return nil, fmt.Errorf("shipped providers: %w", err)
	}
	if dir == nil {
		return s, nil
	}
	path := filepath.Join(dir.Name(), sub)
	fi, err := dir.Lstat(sub)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("providers directory: %w", err)
	}
	if err := checkTrusted(path, fi, trusted, true); err != nil {
		return nil, err
	}
	pd, err := dir.OpenRoot(sub)
	if err != nil {
		return nil, fmt.Errorf("open providers directory: %w", err)
	}
	defer pd.Close()
	d, err := pd.Open(".")
	if err != nil {
		return nil, fmt.Errorf("read providers directory: %w", err)
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return nil, fmt.Errorf("read providers directory: %w", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), Ext) || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p, err := loadIn(pd, e.Name(), trusted)
		if err != nil {
			return nil, err
		}
		s.byName[p.Name] = p
	}
	return s, nil
}

// LoadFile reads one provider file by its path, for
// `terok-vault providers check` (trusted nil: no ownership check).
func LoadFile(path string, trusted Trust) (*Provider, error) {
	dir, err := os.OpenRoot(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("open provider file: %w", err)
	}
	defer dir.Close()
	return loadIn(dir, filepath.Base(path), trusted)
}

// loadIn reads the provider file name in dir after checking who could
// have written it.
func loadIn(dir *os.Root, name string, trusted Trust) (*Provider, error) {
	path := filepath.Join(dir.Name(), name)
	fi, err := dir.Lstat(name)
	if err != nil {
		return nil, fmt.Errorf("open provider file: %w", err)
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return nil, fmt.Errorf("%w: %s is a symlink; put the provider file itself there", ErrUntrusted, path)
	}
	f, err := dir.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open provider file: %w", err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrInvalid, path)
	}
	if trusted != nil {
		if err := checkTrusted(path, fi, trusted, false); err != nil {
			return nil, err
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > maxFile {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrInvalid, path, maxFile)
	}
	return Parse(strings.TrimSuffix(name, Ext), path, b)
}

// checkTrusted refuses a symlink, an owner that is not trusted, and a
// mode that lets group or others write.
func checkTrusted(path string, fi os.FileInfo, trusted Trust, dir bool) error {
	what := "provider file"
	if dir {
		what = "providers directory"
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("%w: the %s %s is a symlink; make it a real %s owned by root", ErrUntrusted, what, path, map[bool]string{true: "directory", false: "file"}[dir])
	case dir && !fi.IsDir():
		return fmt.Errorf("%w: %s is not a directory", ErrUntrusted, path)
	case !ok || !trusted(int(st.Uid)):
		uid := -1
		if ok {
			uid = int(st.Uid)
		}
		return fmt.Errorf("%w: the %s %s belongs to uid %d, not root or the vault's user; a provider decides where real keys are sent, so only root may add one: check it, then chown root:root %s", ErrUntrusted, what, path, uid, path)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%w: the %s %s may be written by group or others (mode %04o); chmod go-w %s", ErrUntrusted, what, path, fi.Mode().Perm(), path)
	}
	return nil
}
