package agentsettings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Path returns where s.File is: ~/… under home, else s.File itself.
func (s Setting) Path(home string) (string, error) {
	if rest, ok := strings.CutPrefix(s.File, "~/"); ok {
		if home == "" {
			return "", fmt.Errorf("%w: %s: $HOME is not set: set it in the image or the project's agent.env", ErrInvalid, s.File)
		}
		return filepath.Join(home, filepath.FromSlash(rest)), nil
	}
	return filepath.FromSlash(s.File), nil
}

// Apply writes s into its file under home ($HOME for ~): it creates the
// file's directories (0700) and the file (0600) when absent, keeps an
// existing file's mode and other content, and replaces the file at once
// (a temporary file in the same directory, renamed over it), so an
// agent never reads half a file. A symbolic link is followed.
func Apply(home string, s Setting) error {
	if err := s.Check(); err != nil {
		return err
	}
	if err := apply(home, s); err != nil {
		return fmt.Errorf("set %s in %s: %w", s.Key, s.File, err)
	}
	return nil
}

func apply(home string, s Setting) error {
	file, err := s.Path(home)
	if err != nil {
		return err
	}
	if real, err := filepath.EvalSymlinks(file); err == nil {
		file = real
	}
	mode := fs.FileMode(0o600)
	old, err := os.ReadFile(file)
	switch {
	case err == nil:
		if st, err := os.Stat(file); err == nil {
			mode = st.Mode().Perm()
		}
	case errors.Is(err, fs.ErrNotExist):
		old = nil
	default:
		return fmt.Errorf("read the file: %w", short(err))
	}
	var out []byte
	format, _ := Format(s.File)
	switch format {
	case TOML:
		out, err = SetTOML(old, s.Key, s.Value)
	case JSON:
		out, err = SetJSON(old, s.Key, s.Value)
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("create its directory: %w", short(err))
	}
	if err := writeAtomic(file, out, mode); err != nil {
		return fmt.Errorf("write the file: %w", short(err))
	}
	return nil
}

// short drops the path an os error repeats (the message names the file
// as the recipe gives it), keeping the cause for errors.Is.
func short(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return fmt.Errorf("%s: %w", le.Op, le.Err)
	}
	return err
}

// writeAtomic replaces file by b with mode: a temporary file in its
// directory, synced, then renamed over it.
func writeAtomic(file string, b []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*.tmp")
	if err != nil {
		return err
	}
	renamed := false
	defer func() {
		if !renamed {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(b); err != nil {
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return err
	}
	renamed = true
	return nil
}

// SetTOML returns TOML document doc with top-level key (dotted for a
// nested one) set to the string value: a line assigning exactly that key
// before the first [table] header is dropped, and `key = "value"` is put
// first. Keys under a table header are left alone. An existing value
// spanning lines (a multi-line string or array) is refused: dropping its
// first line would break the file.
func SetTOML(doc []byte, key, value string) ([]byte, error) {
	if !keyRE.MatchString(key) {
		return nil, fmt.Errorf("%w: key %q: use a dotted key of letters, digits, _ and -", ErrInvalid, key)
	}
	var b bytes.Buffer
	b.WriteString(key + " = " + tomlString(value) + "\n")
	lines := strings.SplitAfter(string(doc), "\n")
	inTable := false
	for _, line := range lines {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") {
			inTable = true
		}
		if !inTable {
			if k, v, ok := tomlAssignment(t); ok && k == key {
				if spansLines(v) {
					return nil, fmt.Errorf("%w: %s holds a value of several lines, not a URL string: remove it from the file", ErrInvalid, key)
				}
				continue
			}
		}
		b.WriteString(line)
	}
	if len(doc) > 0 && !bytes.HasSuffix(doc, []byte("\n")) {
		b.WriteString("\n")
	}
	return b.Bytes(), nil
}

// tomlAssignment splits a trimmed line `k = v` into its key, normalised
// (the white space around dots and the quotes of simple quoted parts
// removed), and its value; ok is false for other lines.
func tomlAssignment(line string) (key, value string, ok bool) {
	if line == "" || line[0] == '#' {
		return "", "", false
	}
	i := strings.IndexByte(line, '=')
	if i < 0 {
		return "", "", false
	}
	parts := strings.Split(line[:i], ".")
	for j, p := range parts {
		p = strings.TrimSpace(p)
		if len(p) >= 2 && (p[0] == '"' && p[len(p)-1] == '"' || p[0] == '\'' && p[len(p)-1] == '\'') {
			p = p[1 : len(p)-1]
		}
		parts[j] = p
	}
	return strings.Join(parts, "."), strings.TrimSpace(line[i+1:]), true
}

// spansLines tells whether a TOML value opens a multi-line string or an
// array that its line does not close.
func spansLines(v string) bool {
	for _, q := range []string{`"""`, `'''`} {
		if strings.HasPrefix(v, q) {
			return !strings.Contains(v[3:], q)
		}
	}
	if strings.HasPrefix(v, "[") {
		if i := strings.IndexByte(v, '#'); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		return !strings.HasSuffix(v, "]")
	}
	return false
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
				continue
			}
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// SetJSON returns JSON object doc (empty: {}) with key set to the string
// value, its dots naming nested objects (made when absent), indented by
// two spaces. A document that is not a JSON object, or a key whose path
// crosses a value that is not an object, is refused.
func SetJSON(doc []byte, key, value string) ([]byte, error) {
	if !keyRE.MatchString(key) {
		return nil, fmt.Errorf("%w: key %q: use a dotted key of letters, digits, _ and -", ErrInvalid, key)
	}
	root := map[string]any{}
	if len(bytes.TrimSpace(doc)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: the file is not valid JSON (%v): fix or remove it", ErrInvalid, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("%w: the file holds more than one JSON value: fix or remove it", ErrInvalid)
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: the file is not a JSON object: fix or remove it", ErrInvalid)
		}
		root = obj
	}
	parts := strings.Split(key, ".")
	cur := root
	for i, p := range parts[:len(parts)-1] {
		next, ok := cur[p]
		if !ok {
			m := map[string]any{}
			cur[p], cur = m, m
			continue
		}
		m, ok := next.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: %s holds a value that is not an object: fix or remove it", ErrInvalid, strings.Join(parts[:i+1], "."))
		}
		cur = m
	}
	cur[parts[len(parts)-1]] = value
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encode the file: %w", err)
	}
	return b.Bytes(), nil
}
