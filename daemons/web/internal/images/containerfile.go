package images

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/recipes"
)

// NPMRange is the npm release line the agents layer bootstraps from the
// npm registry (npm 10 runs on Node.js 18.17 and later, so Debian 12's and
// Ubuntu 24.04's nodejs work too). Distribution npm packages pull in
// hundreds of node-* packages; npm's own tarball bundles its dependencies.
const NPMRange = "^10.9.0"

// SecretID is the build secret carrying the host's CA bundle; a RUN step
// that fetches mounts it at SecretPath.
const (
	SecretID   = "hostca"
	SecretPath = "/run/secrets/" + SecretID
)

// cache mounts shared by every build of the Podman user: apt's archives
// and lists, and npm's cache, so a rebuild fetches only what changed.
const (
	aptCache = "--mount=type=cache,id=terok-apt-archives,target=/var/cache/apt " +
		"--mount=type=cache,id=terok-apt-lists,target=/var/lib/apt/lists"
	dnfCache = "--mount=type=cache,id=terok-dnf,target=/var/cache/dnf"
	npmCache = "--mount=type=cache,id=terok-npm,target=/root/.npm"
)

// agentPlan is what the agents layer installs, resolved.
type agentPlan struct {
	recipe  recipes.Recipe
	version string // the exact version resolved from the recipe's range
}

// agentsContainerfile writes the agents layer's Containerfile: Node.js
// from the base's own packages, npm from the npm registry, then each
// agent (sorted by name): its family's extra packages and commands, its
// npm package at the resolved version, its files and environment. With
// ca the steps that fetch mount the host's CA bundle.
func agentsContainerfile(parentID, npmVersion string, plan []agentPlan, ca bool) string {
	var b strings.Builder
	sec := ""
	if ca {
		sec = "--mount=type=secret,id=" + SecretID + " "
	}
	fmt.Fprintf(&b, "FROM %s\n", parentID)
	need := 0
	for _, p := range plan {
		need = max(need, p.recipe.Node)
	}
	// Node.js from the base's family, unless the base has it already.
	fmt.Fprintf(&b, "RUN %s%s %s \\\n    %s\n", sec, aptCache, dnfCache, shellJoin([]string{
		"set -e",
		"if command -v node >/dev/null 2>&1; then echo \"terok: the base has Node.js $(node --version)\"",
		"elif command -v apt-get >/dev/null 2>&1; then " + aptInstall(ca, "nodejs", "ca-certificates"),
		"elif command -v dnf >/dev/null 2>&1; then " + dnfInstall(ca, "nodejs", "ca-certificates"),
		"else echo 'terok: the base image has neither apt-get (Debian, Ubuntu) nor dnf (Fedora, RHEL): use such a base, or one with Node.js installed' >&2; exit 1; fi",
		"have=$(node -p 'process.versions.node.split(\".\")[0]')",
		"echo \"terok: Node.js major $have\"",
		"[ \"$have\" -ge " + strconv.Itoa(max(need, 18)) + " ] || { echo \"terok: the base's Node.js is major $have; the agents need " + strconv.Itoa(max(need, 18)) + " or later: use a base with a newer nodejs (Debian 13 has 20)\" >&2; exit 1; }",
	}))
	// npm itself from the registry: one tarball with its dependencies
	// bundled, instead of the distribution's hundreds of node-* packages.
	fmt.Fprintf(&b, "RUN %s%s \\\n    %s\n", sec, npmCache, shellJoin([]string{
		"set -e",
		"d=/usr/local/lib/node_modules/npm",
		"rm -rf $d && mkdir -p $d /usr/local/bin",
		"curl -fsSL " + curlCA(ca) + "https://registry.npmjs.org/npm/-/npm-" + npmVersion + ".tgz | tar -xz -C $d --strip-components=1 --no-same-owner",
		"printf 'prefix=/usr/local\\nupdate-notifier=false\\nfund=false\\naudit=false\\n' > $d/npmrc",
		"ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm",
		"ln -sf ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx",
		"echo \"terok: npm $(npm --version)\"",
	}))
	for _, p := range plan {
		r := p.recipe
		if fam := familySteps(r, ca); fam != "" {
			fmt.Fprintf(&b, "RUN %s%s %s \\\n    %s\n", sec, aptCache, dnfCache, fam)
		}
		env := ""
		if ca {
			env = "NODE_EXTRA_CA_CERTS=" + SecretPath + " "
		}
		post := ""
		if len(r.PostInstall) > 0 {
			post = " && PKGDIR=/usr/local/lib/node_modules/" + r.Package.NPM + " && " + strings.Join(r.PostInstall, " && ")
		}
		fmt.Fprintf(&b, "RUN %s%s \\\n    %snpm install --global --no-audit --no-fund %s%s && command -v %s\n",
			sec, npmCache, env, shq(r.Package.NPM+"@"+p.version), post, shq(r.Binary))
		for i := range r.Files {
			fmt.Fprintf(&b, "COPY %s %s\n", contextFile(r.Name, i), r.Files[i].Path)
		}
		if len(r.Env) > 0 {
			var kv []string
			for _, k := range slices.Sorted(maps.Keys(r.Env)) {
				kv = append(kv, k+"="+dq(r.Env[k]))
			}
			fmt.Fprintf(&b, "ENV %s\n", strings.Join(kv, " "))
		}
	}
	return b.String()
}

// contextFile is where the i-th file of recipe name sits in the context.
func contextFile(name string, i int) string {
	return "files/" + name + "/" + strconv.Itoa(i)
}

// familySteps is one shell line running the recipe's extra packages and
// commands for the base's family ("" when the recipe has none).
func familySteps(r recipes.Recipe, ca bool) string {
	if len(r.Install) == 0 {
		return ""
	}
	var cases []string
	for _, fam := range recipes.Families {
		st, ok := r.Install[fam]
		if !ok {
			continue
		}
		var cmds []string
		if len(st.Packages) > 0 {
			if fam == "debian" {
				cmds = append(cmds, aptInstall(ca, st.Packages...))
			} else {
				cmds = append(cmds, dnfInstall(ca, st.Packages...))
			}
		}
		cmds = append(cmds, st.Run...)
		test := "command -v apt-get >/dev/null 2>&1"
		if fam == "rpm" {
			test = "command -v dnf >/dev/null 2>&1"
		}
		cases = append(cases, test+"; then "+strings.Join(cmds, " && "))
	}
	return "set -e; if " + strings.Join(cases, "; elif ") + "; fi"
}

func aptInstall(ca bool, pkgs ...string) string {
	opt := ""
	if ca {
		opt = " -o Acquire::https::CaInfo=" + SecretPath
	}
	return "apt-get update -q" + opt + " && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends" + opt + " " + strings.Join(pkgs, " ")
}

func dnfInstall(ca bool, pkgs ...string) string {
	opt := ""
	if ca {
		opt = " --setopt=sslcacert=" + SecretPath
	}
	return "dnf install -y --setopt=install_weak_deps=False --setopt=keepcache=True" + opt + " " + strings.Join(pkgs, " ")
}

func curlCA(ca bool) string {
	if ca {
		return "--cacert " + SecretPath + " "
	}
	return ""
}

// shellJoin joins commands into one shell line ("; " between them).
func shellJoin(cmds []string) string { return strings.Join(cmds, "; ") }

// shq quotes s for a POSIX shell.
func shq(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@/._-+=:") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// projectContainerfile writes the project layer: the user's snippet on
// the parent image.
func projectContainerfile(parentID, snippet string) string {
	s := strings.TrimRight(snippet, "\n")
	return "FROM " + parentID + "\n" + s + "\n"
}

// labelLine is the LABEL instruction closing a layer's Containerfile:
// labels set by the last step, so a changed label never invalidates the
// cached steps before it.
func labelLine(labels map[string]string) string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		kv = append(kv, k+"="+dq(labels[k]))
	}
	return "LABEL " + strings.Join(kv, " ") + "\n"
}

// dq quotes s for a Containerfile's ENV or LABEL: double quotes, with \,
// " and $ escaped (values are single lines, checked by the recipe).
func dq(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`)
	return `"` + r.Replace(s) + `"`
}
