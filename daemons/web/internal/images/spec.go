package images

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Spec is the build: section of a project.yml: what goes on top of the
// project's base image. A project without it runs its base image as is.
type Spec struct {
	// Agents are the recipes (by name) installed in the agents layer.
	Agents []string `yaml:"agents,omitempty" json:"agents,omitempty"`
	// DefaultAgent is the agent a task runs when it names none; it must
	// be one of Agents (default: the only one when there is one).
	DefaultAgent string `yaml:"default_agent,omitempty" json:"default_agent,omitempty"`
	// Snippet holds Containerfile lines for the project layer.
	Snippet string `yaml:"snippet,omitempty" json:"snippet,omitempty"`
	// SnippetFile names a file beside project.yml holding the snippet
	// instead (relative, inside the project's directory).
	SnippetFile string `yaml:"snippet_file,omitempty" json:"snippet_file,omitempty"`
	// HostCA says where the host's CA bundle goes: "build" (the default:
	// every build step that fetches gets it as a build secret), "tasks"
	// (builds, and tasks get it mounted read-only at run time) or "off".
	HostCA string `yaml:"host_ca,omitempty" json:"host_ca,omitempty"`
}

// Host CA modes of Spec.HostCA.
const (
	CABuild = "build"
	CATasks = "tasks"
	CAOff   = "off"
)

// Empty reports whether the section asks for nothing to be built.
func (s Spec) Empty() bool {
	return len(s.Agents) == 0 && strings.TrimSpace(s.Snippet) == "" && s.SnippetFile == ""
}

// Default returns the agent a task runs when it names none ("" when the
// project selects no agent).
func (s Spec) Default() string {
	if s.DefaultAgent != "" {
		return s.DefaultAgent
	}
	if len(s.Agents) == 1 {
		return s.Agents[0]
	}
	return ""
}

// CAMode returns HostCA with its default.
func (s Spec) CAMode() string {
	if s.HostCA == "" {
		return CABuild
	}
	return s.HostCA
}

var fromRE = regexp.MustCompile(`(?im)^\s*FROM\s`)

// Validate checks the section; known says whether an agent recipe of that
// name loads (nil to skip that check). Messages name the field (as
// build.FIELD) and the fix; the caller prefixes the file.
func (s Spec) Validate(known func(name string) error) error {
	seen := map[string]bool{}
	for _, a := range s.Agents {
		if seen[a] {
			return fmt.Errorf("build.agents: %s is listed twice: keep one", a)
		}
		seen[a] = true
		if known != nil {
			if err := known(a); err != nil {
				return fmt.Errorf("build.agents: %w", err)
			}
		}
	}
	if s.DefaultAgent != "" && !seen[s.DefaultAgent] {
		return fmt.Errorf("build.default_agent: %q is not in build.agents: add it there or pick one of %v", s.DefaultAgent, s.Agents)
	}
	if s.Snippet != "" && s.SnippetFile != "" {
		return fmt.Errorf("build: both snippet and snippet_file are set: keep one")
	}
	if f := s.SnippetFile; f != "" {
		if filepath.IsAbs(f) || f != filepath.Clean(f) || strings.HasPrefix(f, "..") {
			return fmt.Errorf("build.snippet_file: %q: name a file inside the project's directory, e.g. Containerfile.snippet", f)
		}
	}
	if err := CheckSnippet(s.Snippet); err != nil {
		return fmt.Errorf("build.snippet: %w", err)
	}
	switch s.HostCA {
	case "", CABuild, CATasks, CAOff:
	default:
		return fmt.Errorf("build.host_ca: %q: use build (builds only, the default), tasks (builds and tasks) or off", s.HostCA)
	}
	return nil
}

// CheckSnippet refuses what would break the layering: a FROM line (the
// project layer always builds on the agents layer).
func CheckSnippet(snippet string) error {
	if loc := fromRE.FindStringIndex(snippet); loc != nil {
		line := strings.Count(snippet[:loc[0]], "\n") + 1
		return fmt.Errorf("line %d: FROM is not allowed here: the project layer builds on the agents layer; write only the steps (RUN, ENV, WORKDIR …)", line)
	}
	return nil
}

// LoadSnippet returns the snippet text: Snippet, or the content of
// SnippetFile read from projectDir.
func (s Spec) LoadSnippet(projectDir string) (string, error) {
	if s.SnippetFile == "" {
		return s.Snippet, nil
	}
	p := filepath.Join(projectDir, s.SnippetFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("build.snippet_file: read %s: %w", p, err)
	}
	if err := CheckSnippet(string(b)); err != nil {
		return "", fmt.Errorf("build.snippet_file %s: %w", p, err)
	}
	return string(b), nil
}
