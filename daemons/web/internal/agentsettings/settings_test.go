package agentsettings

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const broker = "http://10.0.2.2:9419/openai/v1"

// TestApply: each case copies testdata/CASE.in.EXT (when there is one)
// to ~/cfg/CASE.EXT in a fresh home, applies the setting and compares
// the file with testdata/CASE.want.EXT, or expects the error; a refused
// setting leaves the file as it was, and no temporary file behind.
func TestApply(t *testing.T) {
	for _, tc := range []struct {
		name, ext, key, value string
		err                   error
	}{
		{name: "absent", ext: "toml", key: "openai_base_url", value: broker},
		{name: "other-keys", ext: "toml", key: "openai_base_url", value: broker},
		{name: "replaced", ext: "toml", key: "openai_base_url", value: broker},
		{name: "table", ext: "toml", key: "openai_base_url", value: broker},
		{name: "dotted", ext: "toml", key: "model_providers.openai.base_url", value: broker},
		{name: "no-newline", ext: "toml", key: "openai_base_url", value: broker},
		{name: "escaped", ext: "toml", key: "openai_base_url", value: "http://h/\"q\"\\\tx\x01"},
		{name: "multiline", ext: "toml", key: "openai_base_url", value: broker, err: ErrInvalid},
		{name: "array", ext: "toml", key: "openai_base_url", value: broker, err: ErrInvalid},
		{name: "absent", ext: "json", key: "openai_base_url", value: broker},
		{name: "empty", ext: "json", key: "openai_base_url", value: broker},
		{name: "nested", ext: "json", key: "provider.anthropic.options.baseURL", value: "http://10.0.2.2:9419/anthropic/v1<&>"},
		{name: "made", ext: "json", key: "provider.anthropic.options.baseURL", value: "http://10.0.2.2:9419/anthropic/v1"},
		{name: "malformed", ext: "json", key: "openai_base_url", value: broker, err: ErrInvalid},
		{name: "array", ext: "json", key: "openai_base_url", value: broker, err: ErrInvalid},
		{name: "crossed", ext: "json", key: "provider.anthropic.options.baseURL", value: broker, err: ErrInvalid},
		{name: "other", ext: "yaml", key: "openai_base_url", value: broker, err: ErrUnsupported},
	} {
		t.Run(tc.name+"."+tc.ext, func(t *testing.T) {
			home := t.TempDir()
			dir := filepath.Join(home, "cfg")
			file := filepath.Join(dir, tc.name+"."+tc.ext)
			in, err := os.ReadFile(filepath.Join("testdata", tc.name+".in."+tc.ext))
			existed := err == nil
			if existed {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, in, 0o644); err != nil {
					t.Fatal(err)
				}
			} else if !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			err = Apply(home, Setting{File: "~/cfg/" + tc.name + "." + tc.ext, Key: tc.key, Value: tc.value})
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				if strings.Contains(err.Error(), tc.value) {
					t.Errorf("the error shows the value: %v", err)
				}
				if got, _ := os.ReadFile(file); string(got) != string(in) {
					t.Errorf("a refused setting changed the file:\n%s", got)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				want, err := os.ReadFile(filepath.Join("testdata", tc.name+".want."+tc.ext))
				if err != nil {
					t.Fatal(err)
				}
				got, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != string(want) {
					t.Fatalf("got:\n%s\nwant:\n%s", got, want)
				}
				st, err := os.Stat(file)
				if err != nil {
					t.Fatal(err)
				}
				wantMode := fs.FileMode(0o600)
				if existed {
					wantMode = 0o644 // an existing file keeps its mode
				}
				if st.Mode().Perm() != wantMode {
					t.Errorf("mode %v, want %v", st.Mode().Perm(), wantMode)
				}
				if !existed {
					if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
						t.Errorf("the made directory: %v %v, want mode 0700", st.Mode().Perm(), err)
					}
				}
			}
			if _, err := os.Stat(dir); err == nil {
				ents, err := os.ReadDir(dir)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range ents {
					if e.Name() != filepath.Base(file) {
						t.Errorf("left behind: %s", e.Name())
					}
				}
			}
		})
	}
}

// TestApplyTwice: a second run (a follow-up with another broker
// address) replaces the first value rather than adding a line.
func TestApplyTwice(t *testing.T) {
	home := t.TempDir()
	for _, v := range []string{"http://a/v1", "http://b/v1"} {
		if err := Apply(home, Setting{File: "~/.codex/config.toml", Key: "openai_base_url", Value: v}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(filepath.Join(home, ".codex", "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "openai_base_url = \"http://b/v1\"\n" {
		t.Fatalf("got %q", got)
	}
}

// TestApplyAbsoluteAndSymlink: an absolute file is written where it
// says; a symbolic link is written through, not replaced.
func TestApplyAbsoluteAndSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.json")
	if err := os.WriteFile(target, []byte(`{"a": 1}`), 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := Apply("", Setting{File: link, Key: "b", Value: "x"}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", fi, err)
	}
	got, _ := os.ReadFile(target)
	if string(got) != "{\n  \"a\": 1,\n  \"b\": \"x\"\n}\n" {
		t.Fatalf("target %q", got)
	}
}

// TestApplyUnwritable: a file that cannot be written (its directory is
// a file) fails the setting, naming the file.
func TestApplyUnwritable(t *testing.T) {
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, ".codex"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := Apply(home, Setting{File: "~/.codex/config.toml", Key: "openai_base_url", Value: broker})
	if err == nil || !strings.Contains(err.Error(), "~/.codex/config.toml") {
		t.Fatalf("error %v, want one naming the file", err)
	}
}

// TestCheck: the files and keys a setting may name.
func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		s   Setting
		err error
	}{
		{Setting{File: "~/.codex/config.toml", Key: "openai_base_url"}, nil},
		{Setting{File: "/etc/x/settings.JSON", Key: "a.b-c.d_e"}, nil},
		{Setting{File: "~/.config/x.yaml", Key: "a"}, ErrUnsupported},
		{Setting{File: "~/.config/x", Key: "a"}, ErrUnsupported},
		{Setting{File: "relative/x.toml", Key: "a"}, ErrInvalid},
		{Setting{File: "~/../x.toml", Key: "a"}, ErrInvalid},
		{Setting{File: "~x.toml", Key: "a"}, ErrInvalid},
		{Setting{File: "~/x.toml", Key: "a..b"}, ErrInvalid},
		{Setting{File: "~/x.toml", Key: `a"b`}, ErrInvalid},
		{Setting{File: "~/x.toml", Key: ""}, ErrInvalid},
	} {
		if err := tc.s.Check(); !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("%+v: %v, want %v", tc.s, err, tc.err)
		}
	}
}

// TestEncodeDecode: the variable's value round-trips, an empty list is
// no variable, and a bad value or setting is refused.
func TestEncodeDecode(t *testing.T) {
	in := []Setting{{File: "~/.codex/config.toml", Key: "openai_base_url", Value: broker}}
	v, err := Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"file":"~/.codex/config.toml","key":"openai_base_url","value":"` + broker + `"}]`; v != want {
		t.Fatalf("encoded %s, want %s", v, want)
	}
	out, err := Decode(v)
	if err != nil || len(out) != 1 || out[0] != in[0] {
		t.Fatalf("decoded %+v %v", out, err)
	}
	if v, err := Encode(nil); v != "" || err != nil {
		t.Fatalf("empty: %q %v", v, err)
	}
	if l, err := Decode(""); l != nil || err != nil {
		t.Fatalf("none: %v %v", l, err)
	}
	for _, bad := range []string{`{`, `{"file":"x"}`, `[{"file":"~/x.ini","key":"a","value":"v"}]`} {
		if _, err := Decode(bad); err == nil {
			t.Errorf("Decode(%s) accepted", bad)
		}
	}
	if _, err := Encode([]Setting{{File: "~/x.ini", Key: "a"}}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Encode of an .ini file: %v", err)
	}
}
