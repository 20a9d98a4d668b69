package config

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// value is one key of a section with where it was last set.
type value struct {
	text string
	file string
	line int
}

// section is one [name] of the merged document.
type section struct {
	name  string
	keys  map[string]*value
	order []string
	file  string
	line  int
}

func (s *section) get(key string) (*value, bool) {
	v, ok := s.keys[key]
	return v, ok
}

// document is the merge of every file read so far: a later file overrides
// an earlier one key by key inside the same section (Python's
// RawConfigParser.read with strict=False).
type document struct {
	sections map[string]*section
	order    []string
}

func newDocument() *document { return &document{sections: map[string]*section{}} }

func (d *document) section(name string) (*section, bool) {
	s, ok := d.sections[name]
	return s, ok
}

// read parses one file into d.
func (d *document) read(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: read %s: %v", ErrInvalid, path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	var cur *section
	var last *value
	n := 0
	for sc.Scan() {
		n++
		raw := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimSpace(raw)
		// Whole-line comments and blank lines.
		if trimmed == "" || trimmed[0] == ';' || trimmed[0] == '#' {
			if trimmed == "" {
				last = nil
			}
			continue
		}
		// Continuation of the previous value.
		if (raw[0] == ' ' || raw[0] == '\t') && last != nil {
			last.text += "\n" + stripInline(trimmed)
			continue
		}
		if trimmed[0] == '[' {
			end := strings.IndexByte(trimmed, ']')
			if end < 0 {
				return fmt.Errorf("%w: %s:%d: section header %q has no closing ]", ErrInvalid, path, n, trimmed)
			}
			name := strings.TrimSpace(trimmed[1:end])
			s, ok := d.sections[name]
			if !ok {
				s = &section{name: name, keys: map[string]*value{}, file: path, line: n}
				d.sections[name] = s
				d.order = append(d.order, name)
			}
			cur, last = s, nil
			continue
		}
		if cur == nil {
			return fmt.Errorf("%w: %s:%d: %q appears before any [section] header", ErrInvalid, path, n, trimmed)
		}
		i := strings.IndexAny(trimmed, "=:")
		if i <= 0 {
			return fmt.Errorf("%w: %s:%d: %q is not a key = value line", ErrInvalid, path, n, trimmed)
		}
		key := strings.ToLower(strings.TrimSpace(trimmed[:i]))
		val := stripInline(strings.TrimSpace(trimmed[i+1:]))
		v := &value{text: val, file: path, line: n}
		if _, seen := cur.keys[key]; !seen {
			cur.order = append(cur.order, key)
		}
		cur.keys[key] = v
		last = v
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: read %s: %v", ErrInvalid, path, err)
	}
	return nil
}

// stripInline removes a ; or # comment that follows whitespace, as Python's
// inline_comment_prefixes does.
func stripInline(s string) string {
	for i := 1; i < len(s); i++ {
		if (s[i] == ';' || s[i] == '#') && (s[i-1] == ' ' || s[i-1] == '\t') {
			return strings.TrimSpace(s[:i])
		}
	}
	return s
}
