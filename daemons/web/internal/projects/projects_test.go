package projects

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

func TestRoundTripKeepsUnknownKeys(t *testing.T) {
	s := New(t.TempDir())
	if _, err := s.Create(Project{Name: "demo", Agent: Agent{Command: "true"}}); err != nil {
		t.Fatal(err)
	}
	f := s.File("demo")
	os.WriteFile(f, []byte("name: demo\nfuture_key: 3\nagent:\n  command: make\n  modle: big\n"), 0o644)
	info, err := s.Get("demo")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{f + ": unknown key future_key is kept but not used (check its spelling)",
		f + ": unknown key agent.modle is kept but not used (check its spelling)"}
	if strings.Join(info.Warnings, "\n") != strings.Join(want, "\n") {
		t.Fatalf("warnings:\n%s\nwant:\n%s", strings.Join(info.Warnings, "\n"), strings.Join(want, "\n"))
	}
	// Saving through the wire form (which has no Extra) keeps them.
	p := info.Project
	p.Extra, p.Agent.Extra = nil, nil
	p.Image = "localhost/x:1"
	if _, err := s.Save(p); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f)
	for _, k := range []string{"future_key: 3", "modle: big", "image: localhost/x:1"} {
		if !strings.Contains(string(b), k) {
			t.Fatalf("saved file lacks %q:\n%s", k, b)
		}
	}
}

func TestValidationNamesFileFieldAndFix(t *testing.T) {
	s := New(t.TempDir())
	for _, tc := range []struct{ yml, field, fix string }{
		{"security_class: paranoid\n", "security_class", "use gatekeeping or online"},
		{"security_class: online\n", "security_class", "set it or use gatekeeping"},
		{"limits:\n  memory: lots\n", "limits.memory", "use e.g. 512m or 2g"},
		{"run:\n  web_port: 70000\n", "run.web_port", "use 1-65535"},
		{"run:\n  web_port: 80\n", "run.web_port", "below 1024, where a task cannot listen"},
		{"agent:\n  env:\n    TEROK_X: y\n", "agent.env", "rename it"},
		{"shield:\n  allow: [\"a.example b.example\"]\n", "shield.allow", "one domain, IP or CIDR per entry"},
		{"name: other\n", "name", "make them the same"},
		{"limits: [\n", "", "fix the YAML syntax"},
		{"limits:\n  cpus: many\n", "", "fix the YAML syntax"},
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

func TestNamesAndMissing(t *testing.T) {
	s := New(t.TempDir())
	for _, n := range []string{"", "Demo", "a b", "../x", "-x", strings.Repeat("a", 49)} {
		if err := ValidName(n); !errors.Is(err, unixhttp.ErrBadRequest) {
			t.Errorf("name %q accepted", n)
		}
	}
	if _, err := s.Get("nosuch"); !errors.Is(err, unixhttp.ErrNotFound) || !strings.Contains(err.Error(), "terok project add nosuch") {
		t.Fatalf("missing project: %v", err)
	}
	if _, err := s.Create(Project{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(Project{Name: "a"}); !errors.Is(err, unixhttp.ErrConflict) {
		t.Fatalf("second create: %v", err)
	}
	ps, err := s.List()
	if err != nil || len(ps) != 1 || ps[0].Name != "a" {
		t.Fatalf("list: %+v %v", ps, err)
	}
}

func TestEffective(t *testing.T) {
	off := false
	d := Defaults{Image: "img:d", Agent: Agent{Command: "agent", Env: map[string]string{"A": "1", "B": "1"}},
		Shield: Shield{Enabled: &off, Allow: []string{"d.example"}}, Limits: Limits{Memory: "1g"}}
	p := Effective(Project{Name: "x", Agent: Agent{Env: map[string]string{"B": "2"}}, Shield: Shield{Allow: []string{"p.example"}}}, d)
	if p.Image != "img:d" || p.Agent.Command != "agent" || p.Agent.Env["A"] != "1" || p.Agent.Env["B"] != "2" ||
		p.Shield.On() || strings.Join(p.Shield.Allow, ",") != "d.example,p.example" || p.Limits.Memory != "1g" || p.SecurityClass != "gatekeeping" {
		t.Fatalf("effective: %+v", p)
	}
	if q := Effective(Project{Name: "y"}, Defaults{}); q.Image != DefaultImage || !q.Shield.On() {
		t.Fatalf("built-in defaults: %+v", q)
	}
}

func TestParseMemory(t *testing.T) {
	for in, want := range map[string]int64{"512m": 512 << 20, "2g": 2 << 30, "1.5G": 3 << 29, "104857600": 104857600} {
		if got, err := ParseMemory(in); err != nil || got != want {
			t.Errorf("%s = %d %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-1g", "1k"} {
		if _, err := ParseMemory(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// TestProjectFilePrivate: project.yml can hold agent.env values, so it is
// its owner's alone (0600 in a 0700 directory), also when an older
// version left the directory open.
func TestProjectFilePrivate(t *testing.T) {
	s := New(t.TempDir())
	if _, err := s.Create(Project{Name: "demo", Agent: Agent{Command: "true"}}); err != nil {
		t.Fatal(err)
	}
	check := func() {
		t.Helper()
		for p, want := range map[string]os.FileMode{s.File("demo"): 0o600, s.Dir("demo"): 0o700} {
			st, err := os.Stat(p)
			if err != nil || st.Mode().Perm() != want {
				t.Errorf("%s: %v %v, want mode %o", p, st, err, want)
			}
		}
	}
	check()
	os.Chmod(s.Dir("demo"), 0o755)
	os.Chmod(s.File("demo"), 0o644)
	info, err := s.Get("demo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(info.Project); err != nil {
		t.Fatal(err)
	}
	check()
}
