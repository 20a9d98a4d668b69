package images

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/keylock"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/recipes"
)

// DefaultBase is the base image of a project that names none.
const DefaultBase = "localhost/terok-base:latest"

// Layer names.
const (
	LayerBase    = "base"
	LayerAgents  = "agents"
	LayerProject = "project"
)

// Image labels every built layer carries.
const (
	LabelLayer     = "terok.layer"     // agents or project
	LabelHash      = "terok.hash"      // the layer's hash (its tag holds a prefix)
	LabelSelection = "terok.selection" // agents: hash of the base and recipe files, versions left out
	LabelAgents    = "terok.agents"    // agents: "claude@2.1.337 codex@0.171.0"
	LabelParent    = "terok.parent"    // the parent image's id
	LabelProject   = "terok.project"   // project: the project's name
)

// AgentsRepo and the project repository prefix name the built layers:
// localhost/terok-agents:<hash> (shared by every project selecting the
// same agents on the same base) and localhost/terok-project-<name>:<hash>.
const (
	AgentsRepo    = "localhost/terok-agents"
	projectPrefix = "localhost/terok-project-"
	tagLen        = 20 // hex digits of the hash in a tag
)

// ProjectRef is the image a project's tasks run once it is built: it
// moves to a new build only when that build succeeded.
func ProjectRef(project string) string { return projectPrefix + project + ":latest" }

// Mode says how much a build may reuse.
type Mode int

const (
	// Reuse keeps every unchanged layer; the agents layer of the same
	// base and recipe files is reused without asking the registry.
	Reuse Mode = iota
	// RefreshAgents resolves the recipes' version ranges anew and rebuilds
	// the agents layer when a version changed.
	RefreshAgents
	// Full builds every layer again without Podman's layer cache.
	Full
)

// Podman is what the builder needs of podmanapi.Client.
type Podman interface {
	Build(ctx context.Context, contextTar io.Reader, o podmanapi.BuildOptions, each func(podmanapi.BuildLine) error) (podmanapi.BuildResult, error)
	InspectImage(ctx context.Context, name string) (podmanapi.ImageDetails, error)
	ImagesByLabel(ctx context.Context, labels ...string) ([]podmanapi.Image, error)
	TagImage(ctx context.Context, name, ref string) error
}

// Recipes finds agent recipes by name (recipes.Store).
type Recipes interface {
	Get(name string) (recipes.Recipe, error)
}

// Config is the builder's settings.
type Config struct {
	// CABundle is the host's CA bundle handed to builds as a secret (and,
	// when a project asks, mounted into tasks); "" hands none.
	CABundle string
	// Now is the clock for step durations (time.Now when nil).
	Now func() time.Time
}

// Builder builds projects' layered images through Podman. Builds of one
// project wait for each other; different projects build at once (an
// agents layer they share is built once, the other waits and reuses it).
type Builder struct {
	podman   Podman
	recipes  Recipes
	resolver Resolver
	cfg      Config

	locks keylock.Locks
}

// New returns a builder.
func New(p Podman, r Recipes, res Resolver, cfg Config) *Builder {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Builder{podman: p, recipes: r, resolver: res, cfg: cfg}
}

// lock takes the named lock and returns its release.
func (b *Builder) lock(ctx context.Context, key string) (func(), error) {
	return b.locks.LockContext(ctx, key)
}

// Request is one build of a project's image.
type Request struct {
	Project string
	// Base is the project's image (DefaultBase when empty).
	Base string
	Spec Spec
	// Snippet is the project layer's text (Spec.LoadSnippet).
	Snippet string
	Mode    Mode
	// Progress gets every event of the build (nil to drop them).
	Progress func(Event)
}

// LayerResult is one layer of a finished build.
type LayerResult struct {
	Name     string        `json:"name"`
	Ref      string        `json:"ref"`
	ImageID  string        `json:"image_id"`
	Hash     string        `json:"hash,omitempty"`
	Reused   bool          `json:"reused"`
	Duration time.Duration `json:"duration"`
}

// Result is a finished build.
type Result struct {
	// Image is ProjectRef(project), now naming ImageID.
	Image   string        `json:"image"`
	ImageID string        `json:"image_id"`
	Layers  []LayerResult `json:"layers"`
	// Versions are the agents' installed versions by agent name.
	Versions map[string]string `json:"versions,omitempty"`
}

// BuildError is a layer whose build failed: the step, its instruction
// and its last output lines. The project's image stays what it was.
type BuildError struct {
	Project string
	Layer   string
	Step    int
	Steps   int
	Text    string
	Lines   []string
	Err     error
}

func (e *BuildError) Error() string {
	at := ""
	if e.Step > 0 {
		at = fmt.Sprintf(" at step %d/%d (%s)", e.Step, e.Steps, e.Text)
	}
	s := fmt.Sprintf("build %s: the %s layer failed%s: %v", e.Project, e.Layer, at, e.Err)
	if len(e.Lines) > 0 {
		s += "\nlast output:\n  " + strings.Join(e.Lines, "\n  ")
	}
	return s + "\n" + ProjectRef(e.Project) + " still names the previous image"
}

func (e *BuildError) Unwrap() error { return e.Err }

// Build builds req.Project's image: its base as is, the agents layer,
// the project layer; each reused when its hash says nothing changed.
// On success ProjectRef(project) names the new image; on failure it keeps
// naming the previous one and the error is a *BuildError when a step
// failed.
func (b *Builder) Build(ctx context.Context, req Request) (Result, error) {
	if req.Base == "" {
		req.Base = DefaultBase
	}
	emit := func(e Event) {
		e.Project = req.Project
		if req.Progress != nil {
			req.Progress(e)
		}
	}
	unlock, err := b.lock(ctx, "project:"+req.Project)
	if err != nil {
		return Result{}, err
	}
	defer unlock()

	var res Result
	base, err := b.podman.InspectImage(ctx, req.Base)
	if err != nil {
		if errors.Is(err, podmanapi.ErrNotFound) {
			return res, fmt.Errorf("build %s: %w: %s is not in Podman's images (make task-image builds %s; or set image: in project.yml)", req.Project, ErrNoBase, req.Base, DefaultBase)
		}
		return res, fmt.Errorf("build %s: inspect the base image %s: %w", req.Project, req.Base, err)
	}
	res.Layers = append(res.Layers, LayerResult{Name: LayerBase, Ref: req.Base, ImageID: base.ID, Reused: true})
	emit(Event{Kind: EventReused, Layer: LayerBase, Ref: req.Base, ImageID: base.ID})

	ca, err := b.hostCA(req.Spec)
	if err != nil {
		return res, fmt.Errorf("build %s: %w", req.Project, err)
	}
	parent := base.ID
	if len(req.Spec.Agents) > 0 {
		l, versions, err := b.agents(ctx, req, base.ID, ca, emit)
		if err != nil {
			return res, err
		}
		res.Layers, res.Versions, parent = append(res.Layers, l), versions, l.ImageID
	}
	if strings.TrimSpace(req.Snippet) != "" {
		if err := CheckSnippet(req.Snippet); err != nil {
			return res, fmt.Errorf("build %s: snippet: %w", req.Project, err)
		}
		l, err := b.project(ctx, req, parent, ca, emit)
		if err != nil {
			return res, err
		}
		res.Layers, parent = append(res.Layers, l), l.ImageID
	}
	res.Image, res.ImageID = ProjectRef(req.Project), parent
	if err := b.podman.TagImage(ctx, parent, res.Image); err != nil {
		return res, fmt.Errorf("build %s: tag %s: %w", req.Project, res.Image, err)
	}
	return res, nil
}

// hostCA reads the CA bundle a build hands over (nil when none).
func (b *Builder) hostCA(s Spec) ([]byte, error) {
	if b.cfg.CABundle == "" || s.CAMode() == CAOff {
		return nil, nil
	}
	ca, err := os.ReadFile(b.cfg.CABundle)
	if err != nil {
		return nil, fmt.Errorf("read the host CA bundle: %w (set TEROK_HOST_CA to the bundle, or host_ca: off in the project's build: section)", err)
	}
	return ca, nil
}

// agents reuses or builds the agents layer on baseID.
func (b *Builder) agents(ctx context.Context, req Request, baseID string, ca []byte, emit func(Event)) (LayerResult, map[string]string, error) {
	selection, rs, err := b.selection(baseID, ca != nil, req.Spec.Agents)
	if err != nil {
		return LayerResult{}, nil, fmt.Errorf("build %s: %w", req.Project, err)
	}
	unlock, err := b.lock(ctx, "agents:"+selection)
	if err != nil {
		return LayerResult{}, nil, err
	}
	defer unlock()

	if req.Mode == Reuse {
		if img, ok, err := b.newest(ctx, LabelSelection+"="+selection, AgentsRepo); err != nil {
			return LayerResult{}, nil, fmt.Errorf("build %s: %w", req.Project, err)
		} else if ok {
			ref := AgentsRepo + ":" + short(img.Labels[LabelHash])
			emit(Event{Kind: EventReused, Layer: LayerAgents, Ref: ref, Hash: img.Labels[LabelHash], ImageID: img.ID})
			return LayerResult{Name: LayerAgents, Ref: ref, ImageID: img.ID, Hash: img.Labels[LabelHash], Reused: true}, versionsOf(img.Labels[LabelAgents]), nil
		}
	}

	// Resolve every version now: at build time, never when a task starts.
	npmVersion, err := b.resolve(ctx, "npm", NPMRange, emit)
	if err != nil {
		return LayerResult{}, nil, fmt.Errorf("build %s: %w", req.Project, err)
	}
	var plan []agentPlan
	versions := map[string]string{}
	var agentsLabel []string
	for _, r := range rs {
		v, err := b.resolveAgent(ctx, r, emit)
		if err != nil {
			return LayerResult{}, nil, fmt.Errorf("build %s: agent %s: %w", req.Project, r.Name, err)
		}
		plan = append(plan, agentPlan{recipe: r, version: v})
		versions[r.Name] = v
		agentsLabel = append(agentsLabel, r.Name+"@"+v)
	}
	cf := agentsContainerfile(baseID, npmVersion, plan, ca != nil)
	h := newHash("terok agents layer v1")
	h.add("parent", baseID)
	h.add("containerfile", cf)
	for _, r := range rs {
		h.add("recipe "+r.Name, string(r.Raw))
	}
	hash := h.sum()
	labels := map[string]string{
		LabelLayer: LayerAgents, LabelHash: hash, LabelSelection: selection,
		LabelAgents: strings.Join(agentsLabel, " "), LabelParent: baseID,
	}
	files := map[string][]byte{}
	for _, r := range rs {
		for i, f := range r.Files {
			files[contextFile(r.Name, i)] = []byte(f.Content)
		}
	}
	l, err := b.layer(ctx, req, LayerAgents, AgentsRepo, hash, cf+labelLine(labels), files, ca, emit)
	return l, versions, err
}

// resolveAgent resolves a recipe's version range.
func (b *Builder) resolveAgent(ctx context.Context, r recipes.Recipe, emit func(Event)) (string, error) {
	v, err := b.resolve(ctx, r.Package.NPM, r.Package.Version, emit)
	if err == nil {
		emit(Event{Kind: EventResolved, Agent: r.Name, Text: r.Package.NPM + "@" + r.Package.Version, Version: v})
	}
	return v, err
}

func (b *Builder) resolve(ctx context.Context, pkg, rng string, emit func(Event)) (string, error) {
	v, err := b.resolver.Resolve(ctx, pkg, rng)
	if err != nil {
		return "", err
	}
	if pkg == "npm" {
		emit(Event{Kind: EventResolved, Text: pkg + "@" + rng, Version: v})
	}
	return v, nil
}

// project reuses or builds the project layer on parentID.
func (b *Builder) project(ctx context.Context, req Request, parentID string, ca []byte, emit func(Event)) (LayerResult, error) {
	cf := projectContainerfile(parentID, req.Snippet)
	hash := projectHash(parentID, req.Snippet)
	labels := map[string]string{LabelLayer: LayerProject, LabelHash: hash, LabelParent: parentID, LabelProject: req.Project}
	return b.layer(ctx, req, LayerProject, projectPrefix+req.Project, hash, cf+labelLine(labels), nil, ca, emit)
}

// layer reuses the image labelled with hash and tagged repo:<hash prefix>
// (unless Full) or builds it from containerfile and files under that tag.
func (b *Builder) layer(ctx context.Context, req Request, name, repo, hash, containerfile string, files map[string][]byte, ca []byte, emit func(Event)) (LayerResult, error) {
	ref := repo + ":" + short(hash)
	if req.Mode != Full {
		img, ok, err := b.newest(ctx, LabelHash+"="+hash, repo)
		if err != nil {
			return LayerResult{}, fmt.Errorf("build %s: %w", req.Project, err)
		}
		if ok {
			emit(Event{Kind: EventReused, Layer: name, Ref: ref, Hash: hash, ImageID: img.ID})
			return LayerResult{Name: name, Ref: ref, ImageID: img.ID, Hash: hash, Reused: true}, nil
		}
	}
	emit(Event{Kind: EventLayer, Layer: name, Ref: ref, Hash: hash})
	tarball, err := contextTar(containerfile, files, ca)
	if err != nil {
		return LayerResult{}, fmt.Errorf("build %s: %w", req.Project, err)
	}
	opts := podmanapi.BuildOptions{Tags: []string{ref}, NoCache: req.Mode == Full}
	if ca != nil {
		opts.Secrets = []podmanapi.BuildSecret{{ID: SecretID, Src: SecretID}}
	}
	start := b.cfg.Now()
	tr := &stepTracker{now: b.cfg.Now, emit: func(e Event) { e.Layer = name; emit(e) }}
	out, err := b.podman.Build(ctx, bytes.NewReader(tarball), opts, func(l podmanapi.BuildLine) error {
		tr.feed(l.Stream)
		return nil
	})
	tr.flush()
	if err != nil {
		be := &BuildError{Project: req.Project, Layer: name, Step: tr.step, Steps: tr.steps, Text: tr.text, Lines: tr.tail, Err: err}
		emit(Event{Kind: EventFailed, Layer: name, Step: be.Step, Steps: be.Steps, Text: be.Text, Lines: be.Lines, Error: err.Error()})
		return LayerResult{}, be
	}
	tr.endStep()
	d := b.cfg.Now().Sub(start)
	emit(Event{Kind: EventBuilt, Layer: name, Ref: ref, Hash: hash, ImageID: out.ImageID, Duration: d})
	return LayerResult{Name: name, Ref: ref, ImageID: out.ImageID, Hash: hash, Duration: d}, nil
}

// newest finds the newest local image carrying label (key=value) that is
// a layer of ours: tagged repo:<its own hash's prefix>. Images a build
// derives from a layer inherit its labels (a failed build's dangling
// intermediate images, the project layer on the agents layer); the tag
// tells the layer itself from them.
func (b *Builder) newest(ctx context.Context, label, repo string) (podmanapi.Image, bool, error) {
	imgs, err := b.podman.ImagesByLabel(ctx, label)
	if err != nil {
		return podmanapi.Image{}, false, fmt.Errorf("list images labelled %s: %w", label, err)
	}
	k, v, _ := strings.Cut(label, "=")
	var best podmanapi.Image
	found := false
	for _, im := range imgs {
		if im.Labels[k] != v || !hasTag(im, repo+":"+short(im.Labels[LabelHash])) {
			continue
		}
		if !found || im.Created > best.Created {
			best, found = im, true
		}
	}
	return best, found, nil
}

func hasTag(im podmanapi.Image, ref string) bool {
	for _, t := range im.RepoTags {
		if t == ref {
			return true
		}
	}
	return false
}

// versionsOf parses the LabelAgents label ("a@1 b@2").
func versionsOf(label string) map[string]string {
	out := map[string]string{}
	for _, f := range strings.Fields(label) {
		if i := strings.LastIndexByte(f, '@'); i > 0 {
			out[f[:i]] = f[i+1:]
		}
	}
	return out
}

// contextTar packs the build context: the Containerfile, the recipes'
// files and the CA bundle as the secret's source (Podman moves it out of
// the context before the build, so no step can COPY it).
func contextTar(containerfile string, files map[string][]byte, ca []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mod := time.Unix(0, 0)
	add := func(name string, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: mod, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	if err := add("Containerfile", []byte(containerfile)); err != nil {
		return nil, fmt.Errorf("pack the build context: %w", err)
	}
	for _, n := range slices.Sorted(maps.Keys(files)) {
		if err := add(n, files[n]); err != nil {
			return nil, fmt.Errorf("pack the build context: %w", err)
		}
	}
	if ca != nil {
		if err := add(SecretID, ca); err != nil {
			return nil, fmt.Errorf("pack the build context: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("pack the build context: %w", err)
	}
	return buf.Bytes(), nil
}

// hasher builds a layer's hash from named parts, each length-prefixed so
// no two inputs run together.
type hasher struct{ h []byte }

func newHash(kind string) *hasher { hs := &hasher{}; hs.add("kind", kind); return hs }

func (hs *hasher) add(name, value string) {
	hs.h = fmt.Appendf(hs.h, "%d:%s=%d:%s\n", len(name), name, len(value), value)
}

func (hs *hasher) sum() string {
	s := sha256.Sum256(hs.h)
	return hex.EncodeToString(s[:])
}

// short is the hash's prefix a tag carries.
func short(h string) string {
	h = strings.TrimPrefix(h, "sha256:")
	if len(h) > tagLen {
		return h[:tagLen]
	}
	return h
}
