package projects

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/images"
)

// TestBuildSection: the build: section loads into the records, reaches
// the wire and back, keeps keys this version does not know, and gives
// the image builder its spec and snippet (from snippet_file beside
// project.yml when it names one).
func TestBuildSection(t *testing.T) {
	s := New(t.TempDir())
	os.MkdirAll(s.Dir("demo"), 0o700)
	yml := "name: demo\nbuild:\n  agents: [claude, opencode]\n  default_agent: opencode\n  snippet_file: Containerfile.snippet\n  host_ca: tasks\n  cache: big\n"
	os.WriteFile(s.File("demo"), []byte(yml), 0o600)
	os.WriteFile(filepath.Join(s.Dir("demo"), "Containerfile.snippet"), []byte("RUN apt-get install -y make\n"), 0o600)
	info, err := s.Get("demo")
	if err != nil {
		t.Fatal(err)
	}
	b := info.Build
	if strings.Join(b.Agents, ",") != "claude,opencode" || b.DefaultAgent != "opencode" || b.SnippetFile != "Containerfile.snippet" || b.HostCA != "tasks" {
		t.Fatalf("build section %+v", b)
	}
	if len(info.Warnings) != 1 || !strings.Contains(info.Warnings[0], "unknown key build.cache is kept") {
		t.Fatalf("warnings %v", info.Warnings)
	}
	w := info.Project.Wire()
	if w.Build == nil || w.Build.DefaultAgent != "opencode" || len(w.Build.Agents) != 2 {
		t.Fatalf("wire %+v", w.Build)
	}
	// Saved through the wire form, the section and its unknown key stay.
	w.Image = "localhost/x:1"
	if _, err := s.Save(FromWire(w)); err != nil {
		t.Fatal(err)
	}
	saved, _ := os.ReadFile(s.File("demo"))
	for _, k := range []string{"agents:", "- opencode", "default_agent: opencode", "snippet_file: Containerfile.snippet", "cache: big", "host_ca: tasks"} {
		if !strings.Contains(string(saved), k) {
			t.Fatalf("saved file lacks %q:\n%s", k, saved)
		}
	}
	p := Effective(info.Project, Defaults{})
	tg, err := s.Target(p)
	if err != nil {
		t.Fatal(err)
	}
	if tg.Project != "demo" || tg.Base != DefaultImage || tg.Snippet != "RUN apt-get install -y make\n" || tg.Spec.Default() != "opencode" || !tg.Built() {
		t.Fatalf("target %+v", tg)
	}
	// A snippet file that is gone is named with the fix.
	os.Remove(filepath.Join(s.Dir("demo"), "Containerfile.snippet"))
	if _, err := s.Target(p); !errors.Is(err, unixhttp.ErrBadRequest) || !strings.Contains(err.Error(), "Containerfile.snippet") || !strings.Contains(err.Error(), "create the file") {
		t.Fatalf("missing snippet file: %v", err)
	}
}

// TestNoBuildSection: a project without build: runs its image as is;
// nothing of the section reaches the wire.
func TestNoBuildSection(t *testing.T) {
	s := New(t.TempDir())
	info, err := s.Create(Project{Name: "plain", Agent: Agent{Command: "make"}})
	if err != nil {
		t.Fatal(err)
	}
	if info.Build.Set() || info.Project.Wire().Build != nil {
		t.Fatalf("build section %+v", info.Build)
	}
	b, _ := os.ReadFile(s.File("plain"))
	if strings.Contains(string(b), "build") {
		t.Fatalf("file holds a build section:\n%s", b)
	}
	tg, err := s.Target(Effective(info.Project, Defaults{}))
	if err != nil || tg.Built() {
		t.Fatalf("target %+v %v", tg, err)
	}
}

// TestBuildValidation: each wrong build: section is refused naming the
// file, the field and the fix.
func TestBuildValidation(t *testing.T) {
	s := New(t.TempDir())
	for _, tc := range []struct{ yml, field, fix string }{
		{"build:\n  agents: [claude, claude]\n", "build.agents", "keep one"},
		{"build:\n  agents: [claude]\n  default_agent: codex\n", "build.default_agent", "add it there or pick one of"},
		{"build:\n  snippet: RUN true\n  snippet_file: x\n", "build", "keep one"},
		{"build:\n  snippet_file: ../../etc/passwd\n", "build.snippet_file", "inside the project's directory"},
		{"build:\n  snippet_file: /etc/passwd\n", "build.snippet_file", "inside the project's directory"},
		{"build:\n  snippet: |\n    RUN true\n    FROM debian\n", "build.snippet", "line 2: FROM is not allowed here"},
		{"build:\n  host_ca: always\n", "build.host_ca", "use build"},
		{"build:\n  agents: claude\n", "", "fix the YAML syntax"},
	} {
		os.MkdirAll(s.Dir("demo"), 0o755)
		os.WriteFile(s.File("demo"), []byte(tc.yml), 0o644)
		_, err := s.Get("demo")
		if !errors.Is(err, unixhttp.ErrBadRequest) {
			t.Fatalf("%q: err %v, want a bad request", tc.yml, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, s.File("demo")) || !strings.Contains(msg, tc.field) || !strings.Contains(msg, tc.fix) {
			t.Fatalf("%q: message %q lacks file, %q or %q", tc.yml, msg, tc.field, tc.fix)
		}
	}
}

// TestHostCADefault: config.yml's host_ca is every project's unless it
// sets its own; a wrong one is refused naming config.yml.
func TestHostCADefault(t *testing.T) {
	s := New(t.TempDir())
	os.WriteFile(s.ConfigFile(), []byte("host_ca: tasks\n"), 0o600)
	d, _, err := s.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	if got := Effective(Project{Name: "a"}, d).Build.Spec().CAMode(); got != images.CATasks {
		t.Fatalf("inherited host_ca %q", got)
	}
	if got := Effective(Project{Name: "a", Build: Build{HostCA: images.CAOff}}, d).Build.Spec().CAMode(); got != images.CAOff {
		t.Fatalf("own host_ca %q", got)
	}
	os.WriteFile(s.ConfigFile(), []byte("host_ca: yes\n"), 0o600)
	if _, _, err := s.Defaults(); !errors.Is(err, unixhttp.ErrBadRequest) || !strings.Contains(err.Error(), "config.yml: host_ca") {
		t.Fatalf("bad host_ca: %v", err)
	}
}
