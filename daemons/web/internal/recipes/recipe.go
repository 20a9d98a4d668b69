package recipes

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
	"go.yaml.in/yaml/v3"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/agentsettings"
)

// Recipe is one agent: how to install it into an image and how to run it.
type Recipe struct {
	// Name is the agent's name as projects select it (`agents: [claude]`);
	// the file's name without .yml.
	Name string `yaml:"name"`
	// Description is one line for lists.
	Description string `yaml:"description"`
	// Package is what installs the agent.
	Package Package `yaml:"package"`
	// Node is the lowest Node.js major version the agent runs on (0: any
	// the npm bootstrap accepts). A base whose nodejs is older fails the
	// build with a message naming both.
	Node int `yaml:"node,omitempty"`
	// Install holds extra steps per base family, besides Node.js and the
	// package itself; a family without an entry needs none.
	Install map[string]Install `yaml:"install,omitempty"`
	// PostInstall are shell commands run right after the package is
	// installed, in the same step (so files they remove never reach a
	// layer), one per item; the package's directory is $PKGDIR.
	PostInstall []string `yaml:"post_install,omitempty"`
	// Files are written into the agents layer (managed settings files).
	Files []File `yaml:"files,omitempty"`
	// Binary is the command the package puts on PATH.
	Binary string `yaml:"binary"`
	// Run says how a task starts the agent.
	Run Run `yaml:"run"`
	// Env is set in the agents layer and in every task running the agent:
	// the settings that switch its telemetry, error reports and update
	// checks off.
	Env map[string]string `yaml:"env,omitempty"`
	// Egress lists the hosts the agent reaches besides its provider's API
	// (domains, IPs or CIDRs); they join a task's shield allowlist when
	// the project selects the agent.
	Egress []string `yaml:"egress,omitempty"`
	// Vault says what the credential vault needs to serve the agent.
	Vault Vault `yaml:"vault"`

	// Source is "shipped" or the user file's path.
	Source string `yaml:"-"`
	// Shadows is set on a user recipe that replaces a shipped one.
	Shadows bool `yaml:"-"`
	// Raw is the file's content, exactly: the image layer's hash covers it.
	Raw []byte `yaml:"-"`
}

// Package names the agent's package in a registry.
type Package struct {
	// NPM is the package's name in the npm registry, e.g.
	// "@anthropic-ai/claude-code".
	NPM string `yaml:"npm"`
	// Version is an exact version ("2.1.337") or an npm range ("^2.1.0",
	// "~0.61.0", "2.x"); a range is resolved against the registry when an
	// image is built, never when a task starts.
	Version string `yaml:"version"`
}

// Install is one base family's extra steps.
type Install struct {
	// Packages are installed with the family's package manager (apt-get
	// on Debian and Ubuntu, dnf on Fedora and RHEL).
	Packages []string `yaml:"packages,omitempty"`
	// Run are shell commands run after the package, one per item.
	Run []string `yaml:"run,omitempty"`
}

// File is a file the agents layer holds, e.g. a managed settings file.
type File struct {
	Path    string `yaml:"path"`
	Content string `yaml:"content"`
}

// Run holds the agent's command lines, each an argv (no shell).
type Run struct {
	// Headless runs the agent on a task's prompt and exits; exactly one
	// item is "{prompt}", replaced by the prompt.
	Headless []string `yaml:"headless"`
	// Interactive opens the agent in the task's terminal.
	Interactive []string `yaml:"interactive"`
}

// Vault is what the credential vault needs to serve the agent.
type Vault struct {
	Providers []Provider `yaml:"providers"`
}

// Provider is one model provider the agent talks to.
type Provider struct {
	// Name is the provider's name, e.g. "anthropic".
	Name string `yaml:"name"`
	// API is the provider API's host; until the vault lands a task is
	// allowed to reach it directly.
	API string `yaml:"api"`
	// BaseURL says how the agent is pointed at another address for this
	// provider (the vault's broker, or a test's fake server).
	BaseURL BaseURL `yaml:"base_url"`
	// KeyEnv are the environment variables the agent reads its key from.
	KeyEnv []string `yaml:"key_env"`
	// Logins are the kinds of login the provider offers outside a task:
	// api-key, device-code, pasted-token.
	Logins []string `yaml:"logins"`
}

// BaseURL is an environment variable or a config key holding the address
// the agent sends the provider's requests to.
type BaseURL struct {
	// Env is the variable's name, e.g. ANTHROPIC_BASE_URL.
	Env string `yaml:"env,omitempty"`
	// Config is a key in the agent's config file instead, e.g.
	// "provider.anthropic.options.baseURL" (dotted path).
	Config string `yaml:"config,omitempty"`
	// File is that config file, e.g. ~/.config/opencode/opencode.json.
	File string `yaml:"file,omitempty"`
	// Format is what the variable or key holds, with {url} standing for
	// the address without a trailing slash (default "{url}"; some agents
	// want "{url}/v1").
	Format string `yaml:"format,omitempty"`
}

// URL returns the base URL value for address u in the provider's format.
func (b BaseURL) URL(u string) string {
	f := b.Format
	if f == "" {
		f = "{url}"
	}
	return strings.ReplaceAll(f, "{url}", strings.TrimRight(u, "/"))
}

// Families are the base families a recipe may give steps for.
var Families = []string{"debian", "rpm"}

// LoginKinds are the kinds of login a provider may offer.
var LoginKinds = []string{"api-key", "device-code", "pasted-token"}

// PromptArg is the item of Run.Headless replaced by the task's prompt.
const PromptArg = "{prompt}"

// HeadlessArgv returns the headless command line with the prompt in place.
func (r Recipe) HeadlessArgv(prompt string) []string {
	out := make([]string, len(r.Run.Headless))
	for i, a := range r.Run.Headless {
		if a == PromptArg {
			a = prompt
		}
		out[i] = a
	}
	return out
}

// Hosts returns the hosts a task running the agent needs: the providers'
// API hosts, then Egress.
func (r Recipe) Hosts() []string {
	var out []string
	for _, p := range r.Vault.Providers {
		out = append(out, p.API)
	}
	return append(out, r.Egress...)
}

// ProviderNames returns the names of the providers the agent talks to
// (Vault.Providers), in the recipe's order: what the credential vault
// serves a task running the agent.
func (r Recipe) ProviderNames() []string {
	out := make([]string, 0, len(r.Vault.Providers))
	for _, p := range r.Vault.Providers {
		out = append(out, p.Name)
	}
	return out
}

var (
	nameRE    = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
	npmRE     = regexp.MustCompile(`^(@[a-z0-9][a-z0-9._-]*/)?[a-z0-9][a-z0-9._-]*$`)
	binRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	envRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	debPkgRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9+.:_-]*$`)
	domainRE  = regexp.MustCompile(`^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$`)
	keyPathRE = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
)

// ValidName checks an agent's name: a lower-case letter, then up to 31
// lower-case letters, digits or -.
func ValidName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w: agent name %q: use a lower-case letter, then up to 31 lower-case letters, digits or -", ErrInvalid, name)
	}
	return nil
}

// Parse decodes and validates one recipe file; name is the file's name
// without .yml and file its path (for messages). Every error names
// file:line, the field and the fix, and matches ErrInvalid.
func Parse(file, name string, b []byte) (Recipe, error) {
	var r Recipe
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return r, syntaxErr(file, err)
	}
	if len(doc.Content) == 0 {
		return r, fmt.Errorf("%w: %s:1: the file is empty: write the recipe's fields (name, description, package, binary, run, vault)", ErrInvalid, file)
	}
	if doc.Content[0].Kind != yaml.MappingNode {
		return r, fmt.Errorf("%w: %s:%d: a recipe is a mapping of fields (name: …, package: …), not a %s", ErrInvalid, file, doc.Content[0].Line, kindName(doc.Content[0].Kind))
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil && !errors.Is(err, io.EOF) {
		return Recipe{}, syntaxErr(file, err)
	}
	r.Raw = append([]byte(nil), b...)
	v := &validator{file: file, root: doc.Content[0]}
	if r.Name == "" {
		r.Name = name
	}
	v.check(r, name)
	if v.err != nil {
		return Recipe{}, v.err
	}
	return r, nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "single value"
	}
	return "document of another kind"
}

var lineRE = regexp.MustCompile(`line (\d+): `)

// syntaxErr turns yaml's "yaml: line 3: …" and "line 3: field x not found
// in type recipes.Recipe" into file:3: ….
func syntaxErr(file string, err error) error {
	var te *yaml.TypeError
	msgs := []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	var out []string
	for _, m := range msgs {
		line := 1
		if s := lineRE.FindStringSubmatch(m); s != nil {
			line, _ = strconv.Atoi(s[1])
			m = strings.Replace(m, s[0], "", 1)
		}
		fix := "fix the YAML syntax"
		if strings.HasPrefix(m, "did not find expected") {
			// yaml reports where the unclosed { or [ opened, counted
			// from 0.
			line++
			fix = "close the { or [ opened on this line"
		}
		if f := regexp.MustCompile(`field (\S+) not found in type \S+`).FindStringSubmatch(m); f != nil {
			m = "unknown field " + f[1]
			fix = "check its spelling; the fields are name, description, package, node, install, post_install, files, binary, run, env, egress, vault"
		} else if strings.Contains(m, "cannot unmarshal") {
			fix = "give the field the kind of value docs/images.md shows for it"
		}
		out = append(out, fmt.Sprintf("%s:%d: %s (%s)", file, line, m, fix))
	}
	return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(out, "; "))
}

// validator checks a decoded recipe and reports the first problem with
// the line of the YAML node it comes from.
type validator struct {
	file string
	root *yaml.Node
	err  error
}

// at returns the line of the node at path (mapping keys, or list indexes
// as numbers); the deepest node found when the path ends early.
func (v *validator) at(p ...string) int {
	n := v.root
	line := n.Line
	for _, k := range p {
		var next *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == k {
					next = n.Content[i+1]
					line = n.Content[i].Line
					break
				}
			}
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(k); err == nil && i >= 0 && i < len(n.Content) {
				next = n.Content[i]
			}
		}
		if next == nil {
			return line
		}
		n = next
		if n.Kind != yaml.MappingNode {
			line = n.Line
		}
	}
	return line
}

// bad records the first problem: field (dotted, for the message), the
// node path and the message with its fix.
func (v *validator) bad(p []string, format string, a ...any) {
	if v.err != nil {
		return
	}
	field := strings.Join(p, ".")
	v.err = fmt.Errorf("%w: %s:%d: %s: %s", ErrInvalid, v.file, v.at(p...), field, fmt.Sprintf(format, a...))
}

func sp(p ...string) []string { return p }

func (v *validator) check(r Recipe, fileName string) {
	if err := ValidName(fileName); err != nil {
		v.bad(sp("name"), "the file's name %q is not an agent name: name it NAME.yml with NAME a lower-case letter, then lower-case letters, digits or -", fileName)
		return
	}
	if r.Name != fileName {
		v.bad(sp("name"), "%q differs from the file's name %q: make them the same (or leave name out)", r.Name, fileName)
	}
	if strings.TrimSpace(r.Description) == "" {
		v.bad(sp("description"), "missing: say in one line what the agent is")
	} else if strings.ContainsAny(r.Description, "\n") {
		v.bad(sp("description"), "spans lines: keep it to one line")
	}
	v.checkPackage(r.Package)
	if r.Node < 0 || r.Node > 99 {
		v.bad(sp("node"), "%d is not a Node.js major version: use e.g. 20", r.Node)
	}
	v.checkInstall(r.Install)
	v.checkCommands(sp("post_install"), r.PostInstall)
	v.checkFiles(r.Files)
	if r.Binary == "" {
		v.bad(sp("binary"), "missing: name the command the package installs, e.g. claude")
	} else if !binRE.MatchString(r.Binary) {
		v.bad(sp("binary"), "%q is not a command name: use letters, digits, . _ - (no path)", r.Binary)
	}
	v.checkRun(r)
	v.checkEnv(r.Env)
	for i, h := range r.Egress {
		if err := checkHost(h); err != nil {
			v.bad(sp("egress", strconv.Itoa(i)), "%v", err)
		}
	}
	v.checkVault(r.Vault)
}

func (v *validator) checkPackage(p Package) {
	switch {
	case p.NPM == "":
		v.bad(sp("package", "npm"), "missing: give the agent's package in the npm registry, e.g. \"@anthropic-ai/claude-code\"")
	case len(p.NPM) > 214 || !npmRE.MatchString(p.NPM):
		v.bad(sp("package", "npm"), "%q is not an npm package name: use lower-case name or @scope/name", p.NPM)
	}
	if p.Version == "" {
		v.bad(sp("package", "version"), "missing: give an exact version (\"2.1.0\") or a range (\"^2.1.0\")")
	} else if _, err := semver.NewConstraint(p.Version); err != nil {
		v.bad(sp("package", "version"), "%q is not a version or range (%v): use e.g. \"2.1.0\", \"^2.1.0\" or \"~0.61.0\"", p.Version, err)
	}
}

func (v *validator) checkInstall(in map[string]Install) {
	for _, fam := range slices.Sorted(maps.Keys(in)) {
		if !contains(Families, fam) {
			v.bad(sp("install", fam), "%q is not a base family: use %s", fam, strings.Join(Families, " or "))
			continue
		}
		st := in[fam]
		for i, p := range st.Packages {
			if !debPkgRE.MatchString(p) {
				v.bad(sp("install", fam, "packages", strconv.Itoa(i)), "%q is not a package name: use the distribution's package name, e.g. ripgrep", p)
			}
		}
		v.checkCommands(sp("install", fam, "run"), st.Run)
	}
}

// checkCommands refuses empty commands and commands spanning lines.
func (v *validator) checkCommands(p []string, cmds []string) {
	for i, c := range cmds {
		at := append(append([]string(nil), p...), strconv.Itoa(i))
		switch {
		case strings.TrimSpace(c) == "":
			v.bad(at, "empty command: remove it")
		case strings.ContainsAny(c, "\n\r"):
			v.bad(at, "spans lines: give one command per list item (a Containerfile RUN line cannot hold a newline)")
		}
	}
}

// forbiddenDirs may not receive a recipe's files: they are the kernel's,
// the runtime's or terok's own.
var forbiddenDirs = []string{"/proc", "/sys", "/dev", "/run", "/tmp", "/workspace"}

func (v *validator) checkFiles(fs []File) {
	seen := map[string]bool{}
	for i, f := range fs {
		p := sp("files", strconv.Itoa(i), "path")
		switch {
		case !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || f.Path == "/":
			v.bad(p, "%q: give an absolute, clean file path, e.g. /etc/gemini-cli/settings.json", f.Path)
		case strings.ContainsAny(f.Path, " \t\n\\\"'$"):
			v.bad(p, "%q: use a path without white space, quotes, $ or backslashes", f.Path)
		case seen[f.Path]:
			v.bad(p, "%q is given twice: keep one", f.Path)
		}
		for _, d := range forbiddenDirs {
			if f.Path == d || strings.HasPrefix(f.Path, d+"/") {
				v.bad(p, "%q is under %s, which a task mounts over: write the file elsewhere (e.g. under /etc)", f.Path, d)
			}
		}
		seen[f.Path] = true
	}
}

func (v *validator) checkRun(r Recipe) {
	h := r.Run.Headless
	n := 0
	for _, a := range h {
		if a == PromptArg {
			n++
		}
	}
	switch {
	case len(h) == 0:
		v.bad(sp("run", "headless"), "missing: give the command line that runs the agent on a prompt, e.g. [%s, -p, \"%s\"]", orDefault(r.Binary, "agent"), PromptArg)
	case n != 1:
		v.bad(sp("run", "headless"), "holds \"%s\" %d times: put it exactly once, as an item of its own", PromptArg, n)
	case h[0] != r.Binary:
		v.bad(sp("run", "headless"), "starts with %q, not the binary %q: start it with the binary", h[0], r.Binary)
	}
	in := r.Run.Interactive
	switch {
	case len(in) == 0:
		v.bad(sp("run", "interactive"), "missing: give the command line that opens the agent in a terminal, e.g. [%s]", orDefault(r.Binary, "agent"))
	case in[0] != r.Binary:
		v.bad(sp("run", "interactive"), "starts with %q, not the binary %q: start it with the binary", in[0], r.Binary)
	case contains(in, PromptArg):
		v.bad(sp("run", "interactive"), "holds \"%s\": an interactive run takes no prompt; remove it", PromptArg)
	}
}

func (v *validator) checkEnv(env map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(env)) {
		switch {
		case !envRE.MatchString(k):
			v.bad(sp("env", k), "%q is not a variable name: use letters, digits and _", k)
		case strings.HasPrefix(k, "TEROK_"):
			v.bad(sp("env", k), "TEROK_ variables are set by terok: rename it")
		case strings.ContainsAny(env[k], "\n\r"):
			v.bad(sp("env", k), "the value spans lines: keep it on one line")
		}
	}
}

func (v *validator) checkVault(vt Vault) {
	if len(vt.Providers) == 0 {
		v.bad(sp("vault", "providers"), "missing: name at least one model provider the agent talks to (name, api, base_url, key_env, logins)")
		return
	}
	for i, p := range vt.Providers {
		at := func(f ...string) []string { return append(sp("vault", "providers", strconv.Itoa(i)), f...) }
		if !nameRE.MatchString(p.Name) {
			v.bad(at("name"), "%q is not a provider name: use lower-case letters, digits or -, e.g. anthropic", p.Name)
		}
		if p.API == "" {
			v.bad(at("api"), "missing: give the provider API's host, e.g. api.anthropic.com")
		} else if err := checkHost(p.API); err != nil {
			v.bad(at("api"), "%v", err)
		}
		b := p.BaseURL
		switch {
		case b.Env == "" && b.Config == "":
			v.bad(at("base_url"), "missing: give env (the variable that points the agent elsewhere, e.g. ANTHROPIC_BASE_URL) or config and file")
		case b.Env != "" && b.Config != "":
			v.bad(at("base_url"), "gives both env and config: keep the one the agent reads")
		case b.Env != "" && !envRE.MatchString(b.Env):
			v.bad(at("base_url", "env"), "%q is not a variable name: use letters, digits and _", b.Env)
		case b.Config != "" && !keyPathRE.MatchString(b.Config):
			v.bad(at("base_url", "config"), "%q is not a dotted key: use e.g. provider.anthropic.options.baseURL", b.Config)
		case b.Config != "" && b.File == "":
			v.bad(at("base_url", "file"), "missing: name the config file that holds %s", b.Config)
		case b.Config != "" && errors.Is(agentsettings.CheckFile(b.File), agentsettings.ErrUnsupported):
			v.bad(at("base_url", "file"), "%q: terok-entry writes a task's base URL only into a .toml or .json config file (the format follows the extension): point the agent at a .toml or .json file it reads, or give base_url.env, a variable it reads, instead", b.File)
		case b.Config != "" && agentsettings.CheckFile(b.File) != nil:
			v.bad(at("base_url", "file"), "%q: give the file as ~/PATH (in the task user's home) or an absolute, clean path, e.g. ~/.codex/config.toml", b.File)
		case b.Format != "" && !strings.Contains(b.Format, "{url}"):
			v.bad(at("base_url", "format"), "%q lacks {url}: write e.g. \"{url}/v1\"", b.Format)
		}
		if len(p.KeyEnv) == 0 {
			v.bad(at("key_env"), "missing: list the variables the agent reads its key from, e.g. [ANTHROPIC_API_KEY]")
		}
		for j, k := range p.KeyEnv {
			if !envRE.MatchString(k) {
				v.bad(at("key_env", strconv.Itoa(j)), "%q is not a variable name: use letters, digits and _", k)
			}
		}
		if len(p.Logins) == 0 {
			v.bad(at("logins"), "missing: list the kinds of login the provider offers: %s", strings.Join(LoginKinds, ", "))
		}
		for j, l := range p.Logins {
			if !contains(LoginKinds, l) {
				v.bad(at("logins", strconv.Itoa(j)), "%q is not a login kind: use %s", l, strings.Join(LoginKinds, ", "))
			}
		}
	}
}

// checkHost accepts what a shield allowlist entry accepts: a domain (a
// leading *. for its subdomains), an IP or a CIDR.
func checkHost(h string) error {
	if net.ParseIP(h) != nil {
		return nil
	}
	if _, _, err := net.ParseCIDR(h); err == nil {
		return nil
	}
	if len(h) <= 253 && domainRE.MatchString(h) {
		return nil
	}
	return fmt.Errorf("%q is not a host: give a domain (e.g. api.anthropic.com), an IP or a CIDR, without scheme, port or path", h)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
