package profile

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/target"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/trust"
)

//go:embed bundled/*.txt
var bundled embed.FS

// Profile is one loaded allowlist.
type Profile struct {
	Name     string
	Source   string // "bundled" or the user file path
	Shadows  bool   // a user file replacing a bundled profile
	Entries  []target.Target
	Warnings []string // bad lines skipped in lenient mode, as file:line: reason
	Err      error    // set by List for a profile that does not load
}

// Store finds profiles in a user directory and the bundled set.
type Store struct {
	Dir     string // <config>/system/shield/profiles; may not exist
	Lenient bool   // skip bad lines (reported as warnings) instead of failing
}

func validName(n string) bool {
	if n == "" || len(n) > 64 {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Load reads one profile by name; a user file wins over a bundled one.
func (s Store) Load(name string) (Profile, error) {
	if !validName(name) {
		return Profile{}, fmt.Errorf("%q: %w", name, ErrBadName)
	}
	_, bErr := fs.Stat(bundled, "bundled/"+name+".txt")
	isBundled := bErr == nil
	if s.Dir != "" {
		path := filepath.Join(s.Dir, name+".txt")
		b, err := s.readUser(path)
		if err == nil {
			p, err := s.parse(name, path, b)
			p.Shadows = isBundled
			return p, err
		}
		if !errors.Is(err, os.ErrNotExist) {
			return Profile{}, fmt.Errorf("profile %s: %w", name, err)
		}
	}
	if !isBundled {
		return Profile{}, fmt.Errorf("profile %q (not bundled, no %s): %w", name, filepath.Join(s.Dir, name+".txt"), ErrUnknown)
	}
	b, err := bundled.ReadFile("bundled/" + name + ".txt")
	if err != nil {
		return Profile{}, fmt.Errorf("read bundled profile %s: %w", name, err)
	}
	return s.parse(name, "bundled", b)
}

// readUser reads a user profile file: the profiles directory and the file
// must pass trust's checks (as root: root's, writable by root alone; never
// through a symbolic link). A missing directory or file matches
// os.ErrNotExist.
func (s Store) readUser(path string) ([]byte, error) {
	if err := trust.CheckDir(s.Dir); err != nil {
		return nil, err
	}
	return trust.ReadFile(path, maxProfile)
}

// maxProfile bounds one profile file (a 10,000-entry list is ~200 KB).
const maxProfile = 16 << 20

func (s Store) parse(name, source string, b []byte) (Profile, error) {
	p := Profile{Name: name, Source: source}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		t, err := target.Parse(line)
		if err != nil {
			msg := fmt.Sprintf("%s:%d: %v", source, n, err)
			if !s.Lenient {
				return Profile{}, fmt.Errorf("%s (fix the line, or start the daemon with --lenient-profiles to skip bad lines): %w", msg, ErrBadLine)
			}
			p.Warnings = append(p.Warnings, msg)
			continue
		}
		p.Entries = append(p.Entries, t)
	}
	if err := sc.Err(); err != nil {
		return Profile{}, fmt.Errorf("read %s: %w", source, err)
	}
	return p, nil
}

// List loads every known profile, bundled and user, sorted by name.
func (s Store) List() ([]Profile, error) {
	names := map[string]bool{}
	ents, _ := fs.ReadDir(bundled, "bundled")
	for _, e := range ents {
		names[strings.TrimSuffix(e.Name(), ".txt")] = true
	}
	if s.Dir != "" {
		if err := trust.CheckDir(s.Dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("list profiles: %w", err)
		}
		files, err := os.ReadDir(s.Dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("list %s: %w", s.Dir, err)
		}
		for _, f := range files {
			if n, ok := strings.CutSuffix(f.Name(), ".txt"); ok && validName(n) && !f.IsDir() {
				names[n] = true
			}
		}
	}
	var out []Profile
	for n := range names {
		p, err := s.Load(n)
		if err != nil {
			// One broken file must not hide the others; show it with its error.
			p = Profile{Name: n, Source: filepath.Join(s.Dir, n+".txt"), Err: err}
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
