package recipes

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestShipped validates every shipped recipe and checks what the images
// and the runner rely on.
func TestShipped(t *testing.T) {
	names := ShippedNames()
	want := []string{"claude", "codex", "gemini", "opencode"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("shipped recipes %v, want %v", names, want)
	}
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			r, err := Shipped(n)
			if err != nil {
				t.Fatal(err)
			}
			if r.Source != SourceShipped || r.Name != n || len(r.Raw) == 0 {
				t.Fatalf("recipe %+v", r)
			}
			argv := r.HeadlessArgv("fix the bug")
			if argv[0] != r.Binary || !contains(argv, "fix the bug") || contains(argv, PromptArg) {
				t.Fatalf("headless argv %q", argv)
			}
			if len(r.Hosts()) == 0 || r.Hosts()[0] != r.Vault.Providers[0].API {
				t.Fatalf("hosts %v", r.Hosts())
			}
		})
	}
}

// TestBadRecipes: each file in testdata/bad is refused with the file, the
// line and the message its first line names ("# want: …").
func TestBadRecipes(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.yml")
	if len(files) < 10 {
		t.Fatalf("only %d bad recipes in testdata/bad", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), Ext)
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(b), "\n")
			want, ok := strings.CutPrefix(first, "# want: ")
			if !ok {
				t.Fatalf("%s: first line must be '# want: …'", f)
			}
			_, err = Parse(filepath.Base(f), name, b)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %q\nwant it to contain %q", err, want)
			}
		})
	}
}

func userDir(t *testing.T, files map[string]string) Store {
	t.Helper()
	dir := t.TempDir()
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Store{Dir: dir}
}

const userClaude = `name: claude
description: my own Claude Code, pinned
package: {npm: "@anthropic-ai/claude-code", version: "2.1.337"}
binary: claude
run: {headless: [claude, -p, "{prompt}"], interactive: [claude]}
env: {CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1"}
vault: {providers: [{name: anthropic, api: api.anthropic.com, base_url: {env: ANTHROPIC_BASE_URL}, key_env: [ANTHROPIC_API_KEY], logins: [api-key]}]}
`

// TestUserShadowsShipped: <config>/agents/claude.yml replaces the shipped
// claude, is marked as shadowing it, and a broken one is refused, never
// replaced by the shipped recipe.
func TestUserShadowsShipped(t *testing.T) {
	s := userDir(t, map[string]string{"claude.yml": userClaude})
	r, err := s.Get("claude")
	if err != nil {
		t.Fatal(err)
	}
	if r.Package.Version != "2.1.337" || !r.Shadows || r.Source != filepath.Join(s.Dir, "claude.yml") {
		t.Fatalf("got %+v", r)
	}
	if sh, _ := Shipped("claude"); sh.Package.Version == "2.1.337" {
		t.Fatal("the test needs the shipped claude to differ from the user's")
	}
	broken := userDir(t, map[string]string{"claude.yml": strings.Replace(userClaude, "binary: claude", "binary: [claude]", 1)})
	_, err = broken.Get("claude")
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), filepath.Join(broken.Dir, "claude.yml")+":4:") {
		t.Fatalf("broken user recipe: err = %v, want it refused at claude.yml:4", err)
	}
}

// TestList: shipped and user recipes with their sources; a broken file is
// listed with its error; the rest still load.
func TestList(t *testing.T) {
	mine := strings.NewReplacer("name: claude", "name: mine", "my own Claude Code, pinned", "a recipe of my own").Replace(userClaude)
	s := userDir(t, map[string]string{"mine.yml": mine, "broken.yml": "name: broken\n  bad: indent\n", "notes.txt": "not a recipe"})
	l, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range l {
		src := e.Source
		if src != SourceShipped {
			src = filepath.Base(src)
		}
		state := "ok"
		if e.Err != nil {
			state = "error"
		}
		got = append(got, e.Name+":"+src+":"+state)
	}
	want := "broken:broken.yml:error claude:shipped:ok codex:shipped:ok gemini:shipped:ok mine:mine.yml:ok opencode:shipped:ok"
	if strings.Join(got, " ") != want {
		t.Fatalf("list\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if _, err := s.Get("nope"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("unknown agent: %v", err)
	}
	if _, err := s.Get("../etc"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad name: %v", err)
	}
}

func TestBaseURL(t *testing.T) {
	if got := (BaseURL{Env: "X", Format: "{url}/v1"}).URL("http://10.0.2.2:8080/"); got != "http://10.0.2.2:8080/v1" {
		t.Fatal(got)
	}
	if got := (BaseURL{Env: "X"}).URL("http://h:1"); got != "http://h:1" {
		t.Fatal(got)
	}
}

// TestDocsRecipe: the worked user recipe in docs/images.md validates.
func TestDocsRecipe(t *testing.T) {
	b, err := os.ReadFile("../../../../docs/images.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "```yaml\nname: claude-pinned\n")
	if i < 0 {
		t.Fatal("docs/images.md has no worked recipe claude-pinned")
	}
	body := doc[i+len("```yaml\n"):]
	body = body[:strings.Index(body, "```")]
	r, err := Parse("claude-pinned.yml", "claude-pinned", []byte(body))
	if err != nil || r.Package.Version != "2.1.337" {
		t.Fatalf("the docs' recipe: %+v %v", r, err)
	}
}
