package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
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

// at returns "file:line" of key's value, or of the section header when
// the key is not set (a default applies).
func (s *section) at(key string) string {
	if v, ok := s.keys[key]; ok {
		return fmt.Sprintf("%s:%d", v.file, v.line)
	}
	return fmt.Sprintf("%s:%d", s.file, s.line)
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
	if err := d.parse(f, path); err != nil {
		var se *SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("%w: %v", ErrInvalid, se)
		}
		return fmt.Errorf("%w: read %s: %v", ErrInvalid, path, err)
	}
	return nil
}

// SyntaxError is a line of an ini file that is neither a comment, a
// [section] header, a key = value line nor a continuation.
type SyntaxError struct {
	File      string
	Line      int
	Text      string // the line as written
	NoSection bool   // a key = value line before any [section] header
	Problem   string // what is wrong with it
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Problem) }

// ReadSections parses one ini file from r (named name in errors) and
// returns its sections, each key's value by its lower-cased name. A
// repeated section or key merges, the later value winning. Errors are a
// *SyntaxError or the reader's.
func ReadSections(r io.Reader, name string) (map[string]map[string]string, error) {
	d := newDocument()
	if err := d.parse(r, name); err != nil {
		return nil, err
	}
	out := make(map[string]map[string]string, len(d.sections))
	for n, s := range d.sections {
		keys := make(map[string]string, len(s.keys))
		for k, v := range s.keys {
			keys[k] = v.text
		}
		out[n] = keys
	}
	return out, nil
}

// parse reads one file into d with the rules of Python's RawConfigParser as
// supervisor sets it up: ";" and "#" start a whole-line comment, and an
// inline one after whitespace; "=" or ":" separate key and value; keys are
// case-insensitive; a line indented deeper than its key line continues the
// value, even after blank lines, which stay in the value (trailing ones do
// not); a section header is "[" up to the last "]" of the line.
func (d *document) parse(r io.Reader, path string) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	var cur *section
	var last *value // the value that indented lines continue
	blanks := 0     // blank lines since last's latest line
	indent := 0     // indentation of the latest header or key line
	n := 0
	for sc.Scan() {
		n++
		raw := strings.TrimRight(sc.Text(), "\r")
		full := strings.TrimSpace(raw)
		if strings.HasPrefix(full, "#") || strings.HasPrefix(full, ";") {
			continue
		}
		line := strings.TrimSpace(stripInline(raw))
		if line == "" {
			if full == "" {
				blanks++
			}
			continue
		}
		lineIndent := len(raw) - len(strings.TrimLeft(raw, " \t"))
		if last != nil && lineIndent > indent {
			last.text += strings.Repeat("\n", blanks+1) + line
			blanks = 0
			continue
		}
		indent, blanks = lineIndent, 0
		if line[0] == '[' {
			end := strings.LastIndexByte(line, ']')
			switch {
			case end < 0:
				return &SyntaxError{File: path, Line: n, Text: raw, Problem: fmt.Sprintf("section header %q has no closing ]", line)}
			case end == 1:
				return &SyntaxError{File: path, Line: n, Text: raw, Problem: fmt.Sprintf("section header %q has no name", line)}
			}
			name := line[1:end]
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
			return &SyntaxError{File: path, Line: n, Text: raw, NoSection: true,
				Problem: fmt.Sprintf("%q appears before any [section] header", line)}
		}
		i := strings.IndexAny(line, "=:")
		key := ""
		if i > 0 {
			key = strings.ToLower(strings.TrimSpace(line[:i]))
		}
		if key == "" {
			return &SyntaxError{File: path, Line: n, Text: raw, Problem: fmt.Sprintf("%q is not a key = value line", line)}
		}
		v := &value{text: strings.TrimSpace(line[i+1:]), file: path, line: n}
		if _, seen := cur.keys[key]; !seen {
			cur.order = append(cur.order, key)
		}
		cur.keys[key] = v
		last = v
	}
	return sc.Err()
}

// stripInline removes a ; or # comment that follows whitespace, as Python's
// inline_comment_prefixes does.
func stripInline(s string) string {
	for i := 1; i < len(s); i++ {
		if (s[i] == ';' || s[i] == '#') && (s[i-1] == ' ' || s[i-1] == '\t') {
			return s[:i]
		}
	}
	return s
}
