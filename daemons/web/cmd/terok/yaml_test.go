package main

import (
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// TestProjectYAML: a project shows with project.yml's keys in the wire's
// order, without empty sections, and reads back the same; a misspelt key
// is named.
func TestProjectYAML(t *testing.T) {
	p := webapi.Project{Name: "demo", SecurityClass: "gatekeeping", Git: webapi.Git{UpstreamURL: "/srv/demo.git"},
		Agent: webapi.Agent{Command: "make fix", Env: map[string]string{"API_KEY": "k"}}, Limits: webapi.Limits{Memory: "2g"}}
	b, err := projectYAML(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `name: demo
security_class: gatekeeping
git:
  upstream_url: /srv/demo.git
agent:
  command: make fix
  env:
    API_KEY: k
limits:
  memory: 2g
`
	if string(b) != want {
		t.Fatalf("got\n%s\nwant\n%s", b, want)
	}
	back, err := parseProjectYAML(b)
	if err != nil || back.Name != "demo" || back.Git.UpstreamURL != "/srv/demo.git" || back.Agent.Env["API_KEY"] != "k" || back.Limits.Memory != "2g" {
		t.Fatalf("read back: %+v %v", back, err)
	}
	if _, err := parseProjectYAML([]byte("name: demo\nlimits:\n  memroy: 2g\n")); err == nil || !strings.Contains(err.Error(), "memroy") {
		t.Fatalf("a misspelt key: %v", err)
	}
}

// TestProjectYAMLBuild: terok project edit shows the build: section as
// project.yml writes it (the snippet as a block) and reads it back.
func TestProjectYAMLBuild(t *testing.T) {
	p := webapi.Project{Name: "demo", Build: &webapi.Build{Agents: []string{"claude"}, DefaultAgent: "claude", Snippet: "RUN apt-get install -y make\nENV A=1\n"}}
	b, err := projectYAML(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `name: demo
build:
  agents:
    - claude
  default_agent: claude
  snippet: |
    RUN apt-get install -y make
    ENV A=1
`
	if string(b) != want {
		t.Fatalf("got\n%s\nwant\n%s", b, want)
	}
	back, err := parseProjectYAML(b)
	if err != nil || back.Build == nil || back.Build.Snippet != p.Build.Snippet || back.Build.Agents[0] != "claude" {
		t.Fatalf("read back: %+v %v", back.Build, err)
	}
}
