package projects

import (
	"slices"
	"strings"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/images"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// Build is a project's build: section: the agents and the Containerfile
// lines built on its image (docs/images.md). A project without it runs
// its image as it is.
type Build struct {
	Agents       []string       `yaml:"agents,omitempty"`
	DefaultAgent string         `yaml:"default_agent,omitempty"`
	Snippet      string         `yaml:"snippet,omitempty"`
	SnippetFile  string         `yaml:"snippet_file,omitempty"`
	HostCA       string         `yaml:"host_ca,omitempty"`
	Extra        map[string]any `yaml:",inline"`
}

// Spec is the section as the image builder takes it.
func (b Build) Spec() images.Spec {
	return images.Spec{Agents: slices.Clone(b.Agents), DefaultAgent: b.DefaultAgent, Snippet: b.Snippet,
		SnippetFile: b.SnippetFile, HostCA: b.HostCA}
}

// Set reports whether the section asks for anything to be built.
func (b Build) Set() bool { return !b.Spec().Empty() }

// wire is the section as the API shows it (nil when it is empty).
func (b Build) wire() *webapi.Build {
	if !b.Set() && b.HostCA == "" {
		return nil
	}
	return &webapi.Build{Agents: slices.Clone(b.Agents), DefaultAgent: b.DefaultAgent, Snippet: b.Snippet,
		SnippetFile: b.SnippetFile, HostCA: b.HostCA}
}

// buildFromWire is the section a request describes.
func buildFromWire(w *webapi.Build) Build {
	if w == nil {
		return Build{}
	}
	return Build{Agents: slices.Clone(w.Agents), DefaultAgent: w.DefaultAgent, Snippet: w.Snippet,
		SnippetFile: w.SnippetFile, HostCA: w.HostCA}
}

// validBuild checks the section's form (a recipe's existence is checked
// when the image is built: the recipes may change meanwhile).
func validBuild(file string, b Build) error {
	if err := b.Spec().Validate(nil); err != nil {
		return fail.BadRequest("%s: %v", file, err)
	}
	return nil
}

// validHostCA checks config.yml's host_ca, the default of every project's.
func validHostCA(file, v string) error {
	switch v {
	case "", images.CABuild, images.CATasks, images.CAOff:
		return nil
	}
	return fail.BadRequest("%s: host_ca: %q: use build (builds only, the default), tasks (builds and tasks) or off", file, v)
}

// Target is what building p's image takes: its name, base, build section
// and snippet (read from snippet_file beside project.yml when it names
// one). p is an effective project (Effective).
func (s *Store) Target(p Project) (images.Target, error) {
	spec := p.Build.Spec()
	snippet, err := spec.LoadSnippet(s.Dir(p.Name))
	if err != nil {
		return images.Target{}, fail.BadRequest("%s: %v (create the file or fix build.snippet_file)", s.File(p.Name), err)
	}
	if strings.TrimSpace(snippet) == "" {
		snippet = ""
	}
	return images.Target{Project: p.Name, Base: p.Image, Spec: spec, Snippet: snippet}, nil
}

// Target is the image target of project name as it is now (effective).
func (s *Service) Target(name string) (images.Target, error) {
	p, _, err := s.Effective(name)
	if err != nil {
		return images.Target{}, err
	}
	return s.store.Target(p)
}
