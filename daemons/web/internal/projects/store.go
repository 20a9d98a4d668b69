package projects

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/terok-ai/terok-in-docker/daemons/kit/atomicfile"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// DefaultImage is the task image when neither the project nor config.yml
// names one (make task-image builds it).
const DefaultImage = "localhost/terok-base:latest"

// FileName is the name of a project's file inside its directory.
const FileName = "project.yml"

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,47}$`)

// ValidName checks a project name: lower-case letters, digits, - and _,
// starting with a letter or digit, at most 48 characters.
func ValidName(name string) error {
	if !nameRE.MatchString(name) {
		return fail.BadRequest("project name %q: use 1-48 lower-case letters, digits, - or _, starting with a letter or digit", name)
	}
	return nil
}

// Store reads and writes projects below dir ($TEROK_CONFIG_DIR).
type Store struct {
	dir string
}

// New returns a store of the projects under configDir.
func New(configDir string) *Store { return &Store{dir: configDir} }

// Dir returns the directory of one project.
func (s *Store) Dir(name string) string { return filepath.Join(s.dir, "projects", name) }

// File returns the path of a project's project.yml.
func (s *Store) File(name string) string { return filepath.Join(s.Dir(name), FileName) }

// ConfigFile returns the path of the global config.yml.
func (s *Store) ConfigFile() string { return filepath.Join(s.dir, "config.yml") }

// Defaults loads config.yml (none: empty defaults) and its warnings.
func (s *Store) Defaults() (Defaults, []string, error) {
	var d Defaults
	b, err := os.ReadFile(s.ConfigFile())
	if errors.Is(err, fs.ErrNotExist) {
		return d, nil, nil
	}
	if err != nil {
		return d, nil, fmt.Errorf("read %s: %w", s.ConfigFile(), err)
	}
	if err := yaml.Unmarshal(b, &d); err != nil {
		return d, nil, fail.BadRequest("%s: %v (fix the YAML syntax)", s.ConfigFile(), yamlMsg(err))
	}
	var warn []string
	warn = unknown(warn, s.ConfigFile(), "", d.Extra)
	warn = unknown(warn, s.ConfigFile(), "agent.", d.Agent.Extra)
	warn = unknown(warn, s.ConfigFile(), "shield.", d.Shield.Extra)
	warn = unknown(warn, s.ConfigFile(), "limits.", d.Limits.Extra)
	if err := d.Validate(s.ConfigFile()); err != nil {
		return d, warn, err
	}
	return d, warn, validHostCA(s.ConfigFile(), d.HostCA)
}

// Get loads and validates one project.
func (s *Store) Get(name string) (Info, error) {
	if err := ValidName(name); err != nil {
		return Info{}, err
	}
	file := s.File(name)
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return Info{}, fail.NotFound("no such project: %s (terok project add %s creates it)", name, name)
	}
	if err != nil {
		return Info{}, fmt.Errorf("read %s: %w", file, err)
	}
	return Parse(file, name, b)
}

// Parse decodes and validates the content of a project file; name is the
// project's directory name, which the file's name: must match.
func Parse(file, name string, b []byte) (Info, error) {
	info := Info{File: file}
	if err := yaml.Unmarshal(b, &info.Project); err != nil {
		return info, fail.BadRequest("%s: %v (fix the YAML syntax)", file, yamlMsg(err))
	}
	p := &info.Project
	if p.Name == "" {
		p.Name = name
	} else if p.Name != name {
		return info, fail.BadRequest("%s: name %q differs from its directory %q: make them the same", file, p.Name, name)
	}
	info.Warnings = Warnings(file, *p)
	if err := Validate(file, *p); err != nil {
		return info, err
	}
	return info, nil
}

// Warnings lists the keys of p this version does not know (kept, unused).
func Warnings(file string, p Project) []string {
	var w []string
	w = unknown(w, file, "", p.Extra)
	w = unknown(w, file, "git.", p.Git.Extra)
	w = unknown(w, file, "agent.", p.Agent.Extra)
	w = unknown(w, file, "shield.", p.Shield.Extra)
	w = unknown(w, file, "run.", p.Run.Extra)
	w = unknown(w, file, "limits.", p.Limits.Extra)
	w = unknown(w, file, "build.", p.Build.Extra)
	return w
}

func unknown(w []string, file, prefix string, extra map[string]any) []string {
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w = append(w, fmt.Sprintf("%s: unknown key %s%s is kept but not used (check its spelling)", file, prefix, k))
	}
	return w
}

// Validate checks every field of p; file names where p comes from.
func Validate(file string, p Project) error {
	if err := ValidName(p.Name); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	bad := invalid(file)
	if err := validClass(bad, p.SecurityClass); err != nil {
		return err
	}
	if p.SecurityClass == webapi.ClassOnline && p.Git.UpstreamURL == "" {
		return bad("security_class", "online forwards pushes upstream, but git.upstream_url is empty: set it or use gatekeeping")
	}
	if u := p.Git.UpstreamURL; u != "" && strings.ContainsAny(u, " \t\n") {
		return bad("git.upstream_url", "%q contains white space: give one URL or path", u)
	}
	if b := p.Git.DefaultBranch; b != "" && !branchRE.MatchString(b) {
		return bad("git.default_branch", "%q is not a branch name: use letters, digits, . _ / -", b)
	}
	if err := validCommon(bad, p.Image, p.Agent, p.Shield, p.Limits); err != nil {
		return err
	}
	if w := p.Run.WebPort; w < 0 || w > 65535 {
		return bad("run.web_port", "%d is not a port: use 1-65535", w)
	}
	if w := p.Run.WebPort; w > 0 && w < 1024 {
		// A task holds no privilege for low ports (docs/security.md).
		return bad("run.web_port", "%d is below 1024, where a task cannot listen: use 1024-65535, e.g. 8080", w)
	}
	return validBuild(file, p.Build)
}

// Validate checks config.yml's values as a project's, so a typo (limits:
// memory: 2gb) is refused instead of running tasks without the limit.
func (d Defaults) Validate(file string) error {
	bad := invalid(file)
	if err := validClass(bad, d.SecurityClass); err != nil {
		return err
	}
	return validCommon(bad, d.Image, d.Agent, d.Shield, d.Limits)
}

var (
	branchRE   = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)
	envRE      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	profileRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	providerRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`) // as terok-vault names providers
)

// invalid returns the error maker for one file: the file, the field and
// what to do.
func invalid(file string) func(field, format string, a ...any) error {
	return func(field, format string, a ...any) error {
		return fail.BadRequest("%s: %s: %s", file, field, fmt.Sprintf(format, a...))
	}
}

func validClass(bad func(string, string, ...any) error, class string) error {
	switch class {
	case "", webapi.ClassGatekeeping, webapi.ClassOnline:
		return nil
	}
	return bad("security_class", "%q is not a class: use gatekeeping or online", class)
}

// validCommon checks the fields a project and config.yml share.
func validCommon(bad func(string, string, ...any) error, image string, a Agent, sh Shield, l Limits) error {
	if strings.ContainsAny(image, " \t\n") {
		return bad("image", "%q contains white space: give an image reference like localhost/terok-base:latest", image)
	}
	for k := range a.Env {
		if !envRE.MatchString(k) {
			return bad("agent.env", "%q is not a variable name: use letters, digits and _", k)
		}
		if strings.HasPrefix(k, "TEROK_") {
			return bad("agent.env", "%s: TEROK_ variables are set by terok: rename it", k)
		}
	}
	for _, pv := range a.Providers {
		if !providerRE.MatchString(pv) {
			return bad("agent.providers", "%q is not a provider name: give the vault's names, e.g. [anthropic, openai] (terok secret providers lists them)", pv)
		}
	}
	for _, pr := range sh.Profiles {
		if !profileRE.MatchString(pr) {
			return bad("shield.profiles", "%q is not a profile name (terok shield profiles lists them)", pr)
		}
	}
	for _, al := range sh.Allow {
		if al == "" || strings.ContainsAny(al, " ,\t\n") {
			return bad("shield.allow", "%q: give one domain, IP or CIDR per entry", al)
		}
	}
	if l.Memory != "" {
		if _, err := ParseMemory(l.Memory); err != nil {
			return bad("limits.memory", "%v", err)
		}
	}
	if l.CPUs < 0 {
		return bad("limits.cpus", "%v is negative: use e.g. 1.5", l.CPUs)
	}
	if l.Pids < 0 {
		return bad("limits.pids", "%d is negative: use e.g. 512", l.Pids)
	}
	return nil
}

// ParseMemory parses a size like 512m, 2g, 1048576 into bytes.
func ParseMemory(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			mult, t = 1<<10, t[:n-1]
		case 'm':
			mult, t = 1<<20, t[:n-1]
		case 'g':
			mult, t = 1<<30, t[:n-1]
		case 'b':
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%q is not a size: use e.g. 512m or 2g", s)
	}
	n := int64(v * float64(mult))
	if n < 6<<20 {
		return 0, fmt.Errorf("%q is below the 6m a container needs", s)
	}
	return n, nil
}

// List loads every project; a broken file is listed with its error in
// Warnings so one typo does not hide the rest.
func (s *Store) List() ([]Info, error) {
	ents, err := os.ReadDir(filepath.Join(s.dir, "projects"))
	if errors.Is(err, fs.ErrNotExist) {
		return []Info{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	out := []Info{}
	for _, e := range ents {
		if !e.IsDir() || ValidName(e.Name()) != nil {
			continue
		}
		if _, err := os.Stat(s.File(e.Name())); err != nil {
			continue
		}
		p, err := s.Get(e.Name())
		if err != nil {
			p.Name = e.Name()
			p.File = s.File(e.Name())
			p.Warnings = append(p.Warnings, err.Error())
		}
		out = append(out, p)
	}
	return out, nil
}

// Create writes a new project; a conflict if it is there already.
func (s *Store) Create(p Project) (Info, error) {
	if err := ValidName(p.Name); err != nil {
		return Info{}, err
	}
	if _, err := os.Stat(s.File(p.Name)); err == nil {
		return Info{}, fail.Conflict("project %s exists (%s): edit it or remove it first", p.Name, s.File(p.Name))
	}
	return s.Save(p)
}

// Save validates p and writes it atomically. Keys of the file on disk that
// p does not carry in Extra are kept.
func (s *Store) Save(p Project) (Info, error) {
	file := s.File(p.Name)
	if err := Validate(file, p); err != nil {
		return Info{}, err
	}
	if old, err := os.ReadFile(file); err == nil {
		var prev Project
		if yaml.Unmarshal(old, &prev) == nil {
			p.Extra = keep(p.Extra, prev.Extra)
			p.Git.Extra = keep(p.Git.Extra, prev.Git.Extra)
			p.Agent.Extra = keep(p.Agent.Extra, prev.Agent.Extra)
			p.Shield.Extra = keep(p.Shield.Extra, prev.Shield.Extra)
			p.Run.Extra = keep(p.Run.Extra, prev.Run.Extra)
			p.Limits.Extra = keep(p.Limits.Extra, prev.Limits.Extra)
			p.Build.Extra = keep(p.Build.Extra, prev.Build.Extra)
		}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(p); err != nil {
		return Info{}, fmt.Errorf("encode %s: %w", file, err)
	}
	// project.yml may hold agent.env values (keys, tokens): only its
	// owner reads it, in a directory only its owner enters.
	if err := os.MkdirAll(s.Dir(p.Name), 0o700); err != nil {
		return Info{}, fmt.Errorf("create %s: %w", s.Dir(p.Name), err)
	}
	if err := os.Chmod(s.Dir(p.Name), 0o700); err != nil {
		return Info{}, fmt.Errorf("chmod %s: %w", s.Dir(p.Name), err)
	}
	if err := atomicfile.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		return Info{}, fmt.Errorf("write %s: %w", file, err)
	}
	return Info{Project: p, File: file, Warnings: Warnings(file, p)}, nil
}

func keep(cur, prev map[string]any) map[string]any {
	for k, v := range prev {
		if _, ok := cur[k]; !ok {
			if cur == nil {
				cur = map[string]any{}
			}
			cur[k] = v
		}
	}
	return cur
}

// Delete removes a project's directory.
func (s *Store) Delete(name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if _, err := os.Stat(s.File(name)); err != nil {
		return fail.NotFound("no such project: %s", name)
	}
	if err := os.RemoveAll(s.Dir(name)); err != nil {
		return fmt.Errorf("remove %s: %w", s.Dir(name), err)
	}
	return nil
}

// yamlMsg shortens yaml.v3's error text.
func yamlMsg(err error) string {
	return strings.TrimPrefix(err.Error(), "yaml: ")
}
