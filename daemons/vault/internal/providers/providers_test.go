package providers

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShipped(t *testing.T) {
	s, err := Shipped()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, host, inject, method, path string
		phantomPrefix                    string
	}{
		{"anthropic", "api.anthropic.com", "X-Api-Key", "POST", "/v1/messages", "sk-ant-api03-"},
		{"openai", "api.openai.com", "Authorization Bearer", "POST", "/v1/responses", "sk-proj-"},
		{"gemini", "generativelanguage.googleapis.com", "X-Goog-Api-Key", "POST", "/v1beta/models/gemini-2.5-pro:streamGenerateContent", "AIza"},
	} {
		p, err := s.Get(tc.name)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if p.UpstreamHost() != tc.host || p.Inject.String() != tc.inject || p.Source != SourceShipped {
			t.Errorf("%s: host %s inject %s source %s", tc.name, p.UpstreamHost(), p.Inject, p.Source)
		}
		if _, ok := p.Allowed(tc.method, tc.path); !ok {
			t.Errorf("%s: %s %s not allowed", tc.name, tc.method, tc.path)
		}
		if _, ok := p.Allowed("DELETE", "/v1/organizations/x"); ok {
			t.Errorf("%s allows an admin route", tc.name)
		}
		ph, err := p.Phantom.Mint()
		if err != nil || !strings.HasPrefix(ph, tc.phantomPrefix) || !p.Phantom.Matches(ph) {
			t.Errorf("%s: phantom %q %v", tc.name, ph, err)
		}
	}
	if a, _ := s.Get("anthropic"); len(a.Accept) != 2 || a.Accept[1].Scheme != "Bearer" {
		t.Errorf("anthropic accepts %+v", a.Accept)
	}
	if _, err := s.Get("nope"); !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), "anthropic, gemini, openai") {
		t.Errorf("unknown: %v", err)
	}
}

// TestBadFiles holds every file in testdata/bad to its error (file, line,
// what to write), listed in testdata/cases.txt.
func TestBadFiles(t *testing.T) {
	f, err := os.Open("testdata/cases.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		file, want, _ := strings.Cut(line, " | ")
		n++
		t.Run(file, func(t *testing.T) {
			_, err := LoadFile(filepath.Join("testdata/bad", file), nil)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
				t.Fatalf("err %v\nwant ErrInvalid holding %q", err, want)
			}
		})
	}
	entries, _ := os.ReadDir("testdata/bad")
	if n != len(entries) {
		t.Errorf("cases.txt lists %d files, testdata/bad holds %d", n, len(entries))
	}
}

func TestRoutes(t *testing.T) {
	for _, tc := range []struct {
		methods, pattern, method, path string
		ok                             bool
	}{
		{"POST", "/v1/messages", "POST", "/v1/messages", true},
		{"POST", "/v1/messages", "GET", "/v1/messages", false},
		{"POST", "/v1/messages", "POST", "/v1/messages/", false},
		{"POST", "/v1/messages", "POST", "/v1/messages/x", false},
		{"GET,HEAD", "/v1/models/*", "HEAD", "/v1/models/claude", true},
		{"GET", "/v1/models/*", "GET", "/v1/models", false},
		{"GET", "/v1/models/*", "GET", "/v1/models/a/b", false},
		{"GET", "/v1/models/*", "GET", "/v1/models/", false},
		{"POST", "/v1beta/models/*:generateContent", "POST", "/v1beta/models/g-2:generateContent", true},
		{"POST", "/v1beta/models/*:generateContent", "POST", "/v1beta/models/g-2:streamGenerateContent2", false},
		{"POST", "/v1beta/models/*:generateContent", "POST", "/v1beta/models/x/y:generateContent", false},
		{"GET", "/files/**", "GET", "/files/a/b/c", true},
		{"GET", "/files/**", "GET", "/files", false},
		{"GET", "/files/**", "GET", "/files/a//c", false},
		{"GET", "/a*b*c", "GET", "/abbc", true},
		{"GET", "/a*b*c", "GET", "/acb", false},
	} {
		r, err := ParseRoute(tc.methods, tc.pattern)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.methods, tc.pattern, err)
		}
		if got := r.Match(tc.method, tc.path); got != tc.ok {
			t.Errorf("%s %s vs %s %s: %v, want %v", tc.methods, tc.pattern, tc.method, tc.path, got, tc.ok)
		}
	}
}

func TestTemplate(t *testing.T) {
	tp, err := ParseTemplate("k-{hex:32}-{alnum:4}Z")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := tp.Mint()
	b, _ := tp.Mint()
	if a == b || len(a) != 2+32+1+4+1 || !tp.Matches(a) || tp.Matches(a+"x") || tp.Matches("k-"+strings.Repeat("g", 32)+"-abcdZ") {
		t.Errorf("minted %q %q", a, b)
	}
	for _, bad := range []string{"sk-{alnum:10}", "{hex:x}", "{hex:33", "a b{hex:40}", "{nope:40}", "{hex:600}"} {
		if _, err := ParseTemplate(bad); err == nil {
			t.Errorf("ParseTemplate(%q) accepted", bad)
		}
	}
}

func TestHeaderTake(t *testing.T) {
	bearer := Header{Name: "Authorization", Scheme: "Bearer"}
	for in, want := range map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", "Basic abc": "", "Bearer": "", "": ""} {
		got, ok := bearer.Take(in)
		if got != want || ok != (want != "") {
			t.Errorf("Take(%q) = %q %v", in, got, ok)
		}
	}
	if got, ok := (Header{Name: "X-Api-Key"}).Take("k"); got != "k" || !ok {
		t.Errorf("plain: %q %v", got, ok)
	}
}

// load opens the parent of dir and loads dir's providers through it, as
// the vault does from its config directory.
func load(t *testing.T, dir string, trusted Trust) (*Set, error) {
	t.Helper()
	r, err := os.OpenRoot(filepath.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return Load(r, filepath.Base(dir), trusted)
}

func TestLoadDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "providers")
	os.Mkdir(dir, 0o755)
	os.Chmod(dir, 0o755)
	me := os.Geteuid()
	trustMe := func(uid int) bool { return uid == me }
	good := "# A proxy of our own.\nupstream https://llm.internal.example/base/\ninject Authorization Bearer\nphantom tk-{hex:40}\nroute POST /v1/chat\n"
	os.WriteFile(filepath.Join(dir, "anthropic.provider"), []byte(good), 0o644)
	os.WriteFile(filepath.Join(dir, "README"), []byte("not a provider"), 0o644)
	s, err := load(t, dir, trustMe)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.Get("anthropic")
	if a.Source != filepath.Join(dir, "anthropic.provider") || a.Upstream.String() != "https://llm.internal.example/base" || a.About != "A proxy of our own." {
		t.Errorf("root's file did not replace the shipped one: %+v %s", a, a.Upstream)
	}
	if _, err := s.Get("openai"); err != nil {
		t.Errorf("shipped providers lost: %v", err)
	}
	if _, err := load(t, filepath.Join(dir, "missing"), trustMe); err != nil {
		t.Errorf("a missing directory: %v", err)
	}

	// Nobody trusted owns it: refused, naming the file.
	if _, err := load(t, dir, func(uid int) bool { return uid == me+1 }); !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), dir) {
		t.Errorf("untrusted dir: %v", err)
	}
	// A file others may write.
	os.Chmod(filepath.Join(dir, "anthropic.provider"), 0o666)
	if _, err := load(t, dir, trustMe); !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), "anthropic.provider") {
		t.Errorf("writable file: %v", err)
	}
	os.Chmod(filepath.Join(dir, "anthropic.provider"), 0o644)
	// A directory others may write.
	os.Chmod(dir, 0o777)
	if _, err := load(t, dir, trustMe); !errors.Is(err, ErrUntrusted) {
		t.Errorf("writable dir: %v", err)
	}
	os.Chmod(dir, 0o755)
	// A symlinked file.
	os.WriteFile(filepath.Join(t.TempDir(), "x"), []byte(good), 0o644)
	os.Symlink("/etc/hostname", filepath.Join(dir, "link.provider"))
	if _, err := load(t, dir, trustMe); !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("symlink: %v", err)
	}
	os.Remove(filepath.Join(dir, "link.provider"))
	// A file with an error fails the load, naming file and line.
	os.WriteFile(filepath.Join(dir, "broken.provider"), []byte("upstream https://x.example\nfrobnicate\n"), 0o644)
	if _, err := load(t, dir, trustMe); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "broken.provider:2") {
		t.Errorf("broken: %v", err)
	}
}
