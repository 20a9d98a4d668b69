package images

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/recipes"
)

// fakePodman is the seam's fake for the builder's unit tests: an image
// store, and a Build that reads the Containerfile from the context tar,
// streams a STEP line per instruction in pieces, fails at a step whose
// text holds "exit 3", and labels the image from its LABEL line. The
// integration tests drive real Podman.
type fakePodman struct {
	mu      sync.Mutex
	images  map[string]*podmanapi.Image // by id
	builds  []fakeBuild
	created int64
	// hold, when set, is called at the start of every Build (tests block
	// builds there).
	hold func(tags []string)
}

type fakeBuild struct {
	tags          []string
	containerfile string
	files         map[string]string
	opts          podmanapi.BuildOptions
}

func newFake(base string) *fakePodman {
	f := &fakePodman{images: map[string]*podmanapi.Image{}}
	f.images["baseid"] = &podmanapi.Image{ID: "baseid", RepoTags: []string{base}}
	return f
}

func (f *fakePodman) find(name string) *podmanapi.Image {
	if im, ok := f.images[name]; ok {
		return im
	}
	for _, im := range f.images {
		for _, t := range im.RepoTags {
			if t == name {
				return im
			}
		}
	}
	return nil
}

func (f *fakePodman) InspectImage(ctx context.Context, name string) (podmanapi.ImageDetails, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	im := f.find(name)
	if im == nil {
		return podmanapi.ImageDetails{}, fmt.Errorf("podman GET image %s: %w", name, podmanapi.ErrNotFound)
	}
	return podmanapi.ImageDetails{ID: im.ID, RepoTags: im.RepoTags, Labels: im.Labels}, nil
}

func (f *fakePodman) ImagesByLabel(ctx context.Context, labels ...string) ([]podmanapi.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []podmanapi.Image
	for _, im := range f.images {
		ok := true
		for _, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			ok = ok && im.Labels[k] == v
		}
		if ok {
			out = append(out, *im)
		}
	}
	return out, nil
}

func (f *fakePodman) TagImage(ctx context.Context, name, ref string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	im := f.find(name)
	if im == nil {
		return podmanapi.ErrNotFound
	}
	for _, o := range f.images {
		o.RepoTags = remove(o.RepoTags, ref)
	}
	im.RepoTags = append(im.RepoTags, ref)
	return nil
}

func remove(l []string, s string) []string {
	var out []string
	for _, x := range l {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

var labelKV = regexp.MustCompile(`([a-z.]+)="((?:[^"\\]|\\.)*)"`)

func (f *fakePodman) Build(ctx context.Context, r io.Reader, o podmanapi.BuildOptions, each func(podmanapi.BuildLine) error) (podmanapi.BuildResult, error) {
	files := map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = string(b)
	}
	if f.hold != nil {
		f.hold(o.Tags)
	}
	cf := files["Containerfile"]
	f.mu.Lock()
	f.builds = append(f.builds, fakeBuild{tags: o.Tags, containerfile: cf, files: files, opts: o})
	f.mu.Unlock()
	// Instructions: lines not continuing a previous one.
	var steps []string
	for _, l := range strings.Split(cf, "\n") {
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, " ") && len(steps) > 0 {
			steps[len(steps)-1] += " " + strings.TrimSpace(l)
			continue
		}
		steps = append(steps, strings.TrimSuffix(l, "\\"))
	}
	// An image inherits its parent's labels, as Podman's do.
	labels := map[string]string{}
	if from, ok := strings.CutPrefix(steps[0], "FROM "); ok {
		f.mu.Lock()
		if p := f.find(from); p != nil {
			for k, v := range p.Labels {
				labels[k] = v
			}
		}
		f.mu.Unlock()
	}
	for i, s := range steps {
		head := fmt.Sprintf("STEP %d/%d: %s\n", i+1, len(steps), s)
		// The stream arrives in pieces not cut at line ends.
		each(podmanapi.BuildLine{Stream: head[:5]})
		each(podmanapi.BuildLine{Stream: head[5:]})
		if strings.Contains(s, "exit 3") {
			for n := 1; n <= 30; n++ {
				each(podmanapi.BuildLine{Stream: "output line " + strconv.Itoa(n) + "\r\n"})
			}
			each(podmanapi.BuildLine{Stream: "progress 10%\rprogress 100%\rlast words"})
			// The steps before stay as a dangling image carrying the
			// parent's labels.
			f.mu.Lock()
			f.created++
			f.images[fmt.Sprintf("dangling%d", f.created)] = &podmanapi.Image{ID: fmt.Sprintf("dangling%d", f.created), Labels: labels, Created: f.created}
			f.mu.Unlock()
			return podmanapi.BuildResult{}, &podmanapi.BuildError{Message: "building at STEP \"" + s + "\": while running runtime: exit status 3"}
		}
		if strings.HasPrefix(s, "LABEL ") {
			for _, m := range labelKV.FindAllStringSubmatch(s, -1) {
				labels[m[1]] = m[2]
			}
		}
		each(podmanapi.BuildLine{Stream: "--> " + strconv.Itoa(i) + "\n"})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	sum := sha256.Sum256([]byte(cf + strconv.Itoa(len(f.builds))))
	id := hex.EncodeToString(sum[:])
	f.created++
	for _, t := range o.Tags {
		for _, im := range f.images {
			im.RepoTags = remove(im.RepoTags, t)
		}
	}
	f.images[id] = &podmanapi.Image{ID: id, RepoTags: append([]string(nil), o.Tags...), Labels: labels, Created: f.created}
	each(podmanapi.BuildLine{Stream: id + "\n"})
	return podmanapi.BuildResult{ImageID: id}, nil
}

func (f *fakePodman) buildCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.builds)
}

func (f *fakePodman) lastBuild() fakeBuild {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.builds[len(f.builds)-1]
}

// idOf returns the id of the image tagged ref ("" when none).
func (f *fakePodman) idOf(ref string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if im := f.find(ref); im != nil {
		return im.ID
	}
	return ""
}

// fakeResolver answers versions from a table and counts the questions.
type fakeResolver struct {
	mu       sync.Mutex
	versions map[string]string // "pkg" -> version
	asked    []string
}

func (r *fakeResolver) Resolve(ctx context.Context, pkg, rng string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked = append(r.asked, pkg+"@"+rng)
	v, ok := r.versions[pkg]
	if !ok {
		return "", fmt.Errorf("no package %s", pkg)
	}
	return v, nil
}

func (r *fakeResolver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.asked)
}

// mapRecipes serves recipes from a map, falling back to the shipped ones.
type mapRecipes map[string]recipes.Recipe

func (m mapRecipes) Get(name string) (recipes.Recipe, error) {
	if r, ok := m[name]; ok {
		return r, nil
	}
	return recipes.Shipped(name)
}

func mustRecipe(t *testing.T, name, yml string) recipes.Recipe {
	t.Helper()
	r, err := recipes.Parse(name+".yml", name, []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// eventLog records events as comparable lines (no durations, no ids).
type eventLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var s string
	switch e.Kind {
	case EventStep:
		s = fmt.Sprintf("%s %s %d/%d", e.Kind, e.Layer, e.Step, e.Steps)
	case EventStepDone:
		s = fmt.Sprintf("%s %s %d", e.Kind, e.Layer, e.Step)
	case EventOutput:
		return
	case EventResolved:
		s = fmt.Sprintf("%s %s %s", e.Kind, e.Text, e.Version)
	default:
		s = fmt.Sprintf("%s %s", e.Kind, e.Layer)
	}
	l.lines = append(l.lines, s)
}

func (l *eventLog) kinds() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range l.lines {
		if strings.HasPrefix(s, EventReused+" ") || strings.HasPrefix(s, EventLayer+" ") || strings.HasPrefix(s, EventBuilt+" ") || strings.HasPrefix(s, EventFailed+" ") {
			out = append(out, s)
		}
	}
	return strings.Join(out, ", ")
}
