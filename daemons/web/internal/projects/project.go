package projects

import (
	"maps"
	"slices"

	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// Project is one project.yml: the disk format (webapi.Project is the
// wire's). Extra keeps keys this version does not know, so rewriting a
// file never drops them.
type Project struct {
	Name          string         `yaml:"name"`
	SecurityClass string         `yaml:"security_class,omitempty"`
	Git           Git            `yaml:"git,omitempty"`
	Image         string         `yaml:"image,omitempty"`
	Agent         Agent          `yaml:"agent,omitempty"`
	Shield        Shield         `yaml:"shield,omitempty"`
	Run           Run            `yaml:"run,omitempty"`
	Limits        Limits         `yaml:"limits,omitempty"`
	Build         Build          `yaml:"build,omitempty"`
	Extra         map[string]any `yaml:",inline"`
}

// Git is a project's repository: its upstream (none: a local-only
// repository in the gate) and default branch.
type Git struct {
	UpstreamURL   string         `yaml:"upstream_url,omitempty"`
	DefaultBranch string         `yaml:"default_branch,omitempty"`
	Extra         map[string]any `yaml:",inline"`
}

// Agent is what a task runs: Command with sh -c in /workspace, the
// prompt in $TEROK_PROMPT and on stdin, with Env. Providers are the
// model providers (terok-vault's names: anthropic, openai, gemini) the
// task gets phantom credentials for.
type Agent struct {
	Command   string            `yaml:"command,omitempty"`
	Env       map[string]string `yaml:"env,omitempty"`
	Providers []string          `yaml:"providers,omitempty"`
	Extra     map[string]any    `yaml:",inline"`
}

// Shield is a project's egress policy. Enabled defaults to true.
type Shield struct {
	Enabled  *bool          `yaml:"enabled,omitempty"`
	Profiles []string       `yaml:"profiles,omitempty"`
	Allow    []string       `yaml:"allow,omitempty"`
	Extra    map[string]any `yaml:",inline"`
}

// On reports whether the shield arms this project's tasks (default yes).
func (s Shield) On() bool { return s.Enabled == nil || *s.Enabled }

// Run holds run-time settings: where a web-mode agent listens.
type Run struct {
	WebPort int            `yaml:"web_port,omitempty"`
	Extra   map[string]any `yaml:",inline"`
}

// Limits are a task container's resources: Memory like "2g" or "512m",
// CPUs like 1.5, Pids a count. Zero means no limit.
type Limits struct {
	Memory string         `yaml:"memory,omitempty"`
	CPUs   float64        `yaml:"cpus,omitempty"`
	Pids   int64          `yaml:"pids,omitempty"`
	Extra  map[string]any `yaml:",inline"`
}

// Info is a project as loaded: the file's content, its path and what
// loading it reported.
type Info struct {
	Project
	File     string
	Warnings []string
}

// Wire is the project as the API shows it.
func (p Project) Wire() webapi.Project {
	return webapi.Project{
		Name: p.Name, SecurityClass: p.SecurityClass,
		Git:    webapi.Git{UpstreamURL: p.Git.UpstreamURL, DefaultBranch: p.Git.DefaultBranch},
		Image:  p.Image,
		Agent:  webapi.Agent{Command: p.Agent.Command, Env: maps.Clone(p.Agent.Env), Providers: slices.Clone(p.Agent.Providers)},
		Shield: webapi.Shield{Enabled: p.Shield.Enabled, Profiles: slices.Clone(p.Shield.Profiles), Allow: slices.Clone(p.Shield.Allow)},
		Run:    webapi.Run{WebPort: p.Run.WebPort},
		Limits: webapi.Limits{Memory: p.Limits.Memory, CPUs: p.Limits.CPUs, Pids: p.Limits.Pids},
		Build:  p.Build.wire(),
	}
}

// Wire is the project with its file and warnings as the API shows it.
func (i Info) Wire() webapi.ProjectInfo {
	return webapi.ProjectInfo{Project: i.Project.Wire(), File: i.File, Warnings: i.Warnings}
}

// FromWire is the project a request describes (no unknown keys: Save
// keeps those of the file).
func FromWire(w webapi.Project) Project {
	return Project{
		Name: w.Name, SecurityClass: w.SecurityClass,
		Git:    Git{UpstreamURL: w.Git.UpstreamURL, DefaultBranch: w.Git.DefaultBranch},
		Image:  w.Image,
		Agent:  Agent{Command: w.Agent.Command, Env: maps.Clone(w.Agent.Env), Providers: slices.Clone(w.Agent.Providers)},
		Shield: Shield{Enabled: w.Shield.Enabled, Profiles: slices.Clone(w.Shield.Profiles), Allow: slices.Clone(w.Shield.Allow)},
		Run:    Run{WebPort: w.Run.WebPort},
		Limits: Limits{Memory: w.Limits.Memory, CPUs: w.Limits.CPUs, Pids: w.Limits.Pids},
		Build:  buildFromWire(w.Build),
	}
}

// Defaults is the global config.yml: values a project leaves empty.
type Defaults struct {
	SecurityClass string `yaml:"security_class,omitempty"`
	Image         string `yaml:"image,omitempty"`
	Agent         Agent  `yaml:"agent,omitempty"`
	Shield        Shield `yaml:"shield,omitempty"`
	Limits        Limits `yaml:"limits,omitempty"`
	// HostCA is every project's build.host_ca unless it sets its own.
	HostCA string         `yaml:"host_ca,omitempty"`
	Extra  map[string]any `yaml:",inline"`
}

// Effective fills what p leaves empty from d and the built-in defaults.
func Effective(p Project, d Defaults) Project {
	if p.SecurityClass == "" {
		p.SecurityClass = d.SecurityClass
	}
	if p.SecurityClass == "" {
		p.SecurityClass = webapi.ClassGatekeeping
	}
	if p.Image == "" {
		p.Image = d.Image
	}
	if p.Image == "" {
		p.Image = DefaultImage
	}
	if p.Agent.Command == "" {
		p.Agent.Command = d.Agent.Command
	}
	if len(p.Agent.Providers) == 0 {
		p.Agent.Providers = slices.Clone(d.Agent.Providers)
	}
	if len(d.Agent.Env) > 0 {
		env := maps.Clone(d.Agent.Env)
		maps.Copy(env, p.Agent.Env)
		p.Agent.Env = env
	}
	if p.Shield.Enabled == nil {
		p.Shield.Enabled = d.Shield.Enabled
	}
	if len(p.Shield.Profiles) == 0 {
		p.Shield.Profiles = d.Shield.Profiles
	}
	p.Shield.Allow = append(slices.Clone(d.Shield.Allow), p.Shield.Allow...)
	if p.Limits.Memory == "" {
		p.Limits.Memory = d.Limits.Memory
	}
	if p.Limits.CPUs == 0 {
		p.Limits.CPUs = d.Limits.CPUs
	}
	if p.Limits.Pids == 0 {
		p.Limits.Pids = d.Limits.Pids
	}
	if p.Build.HostCA == "" {
		p.Build.HostCA = d.HostCA
	}
	return p
}
