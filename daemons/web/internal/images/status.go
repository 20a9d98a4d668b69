package images

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/recipes"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// Target is one project's image as project.yml describes it now: what a
// build takes and what a task start compares the built image with.
type Target struct {
	Project string
	// Base is the project's image (DefaultBase when empty).
	Base string
	Spec Spec
	// Snippet is the project layer's text (Spec.LoadSnippet), "" for none.
	Snippet string
}

// Built reports whether the target has anything to build: without, its
// tasks run Base as it is.
func (t Target) Built() bool { return !t.Spec.Empty() || t.Snippet != "" }

func (t Target) base() string {
	if t.Base == "" {
		return DefaultBase
	}
	return t.Base
}

// selection hashes what picks an agents layer besides the versions: the
// base image's id, whether the host's CA goes in, and every selected
// recipe file's bytes (sorted by name).
func (b *Builder) selection(baseID string, ca bool, agents []string) (string, []recipes.Recipe, error) {
	names := append([]string(nil), agents...)
	sort.Strings(names)
	var rs []recipes.Recipe
	sel := newHash("terok agents selection v1")
	sel.add("parent", baseID)
	sel.add("ca", fmt.Sprint(ca))
	for _, n := range names {
		r, err := b.recipes.Get(n)
		if err != nil {
			return "", nil, fmt.Errorf("agent %s: %w", n, err)
		}
		rs = append(rs, r)
		sel.add("recipe "+n, string(r.Raw))
	}
	return sel.sum(), rs, nil
}

// projectHash hashes the project layer: its parent's id and the snippet.
func projectHash(parentID, snippet string) string {
	h := newHash("terok project layer v1")
	h.add("parent", parentID)
	h.add("snippet", snippet)
	return h.sum()
}

// usesCA reports whether a build of spec hands the host's CA over.
func (b *Builder) usesCA(s Spec) bool { return b.cfg.CABundle != "" && s.CAMode() != CAOff }

// Status says whether t's built image is there and was built from what
// t says now: the same base image, the same recipe files, the same
// snippet. Versions resolved from a range do not make an image stale (a
// refresh build picks up new ones). It answers webapi.ImageNone for a
// project without a build: section.
func (b *Builder) Status(ctx context.Context, t Target) (webapi.ImageStatus, error) {
	st := webapi.ImageStatus{Project: t.Project, Image: t.base(), State: webapi.ImageNone}
	if !t.Built() {
		return st, nil
	}
	st.Image, st.Agents = ProjectRef(t.Project), t.Spec.Agents
	build := "terok project build " + t.Project
	img, err := b.podman.InspectImage(ctx, st.Image)
	if errors.Is(err, podmanapi.ErrNotFound) {
		st.State, st.Reason = webapi.ImageMissing, fmt.Sprintf("%s is not built yet: %s builds it", st.Image, build)
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("inspect %s: %w", st.Image, err)
	}
	st.ImageID = img.ID
	st.Versions = versionsOf(img.Labels[LabelAgents])
	stale := func(why string) (webapi.ImageStatus, error) {
		st.State, st.Reason = webapi.ImageStale, fmt.Sprintf("%s is stale: %s since it was built: %s builds it again", st.Image, why, build)
		return st, nil
	}
	base, err := b.podman.InspectImage(ctx, t.base())
	if errors.Is(err, podmanapi.ErrNotFound) {
		return stale("its base image " + t.base() + " is gone")
	}
	if err != nil {
		return st, fmt.Errorf("inspect the base image %s: %w", t.base(), err)
	}
	l := img.Labels
	if len(t.Spec.Agents) > 0 {
		sel, _, err := b.selection(base.ID, b.usesCA(t.Spec), t.Spec.Agents)
		if err != nil {
			return st, fmt.Errorf("project %s: build.agents: %w", t.Project, err)
		}
		if l[LabelSelection] != sel {
			return stale("the agents (build.agents), their recipes or the base image changed")
		}
	} else if l[LabelSelection] != "" {
		return stale("build.agents changed (it is empty now)")
	}
	if t.Snippet == "" {
		if l[LabelLayer] == LayerProject {
			return stale("the snippet was removed")
		}
	} else {
		if l[LabelLayer] != LayerProject || l[LabelHash] != projectHash(l[LabelParent], t.Snippet) {
			return stale("the snippet changed")
		}
		if len(t.Spec.Agents) == 0 && l[LabelParent] != base.ID {
			return stale("the base image changed")
		}
	}
	if l[LabelLayer] == "" {
		return stale("it is not a terok build")
	}
	st.State = webapi.ImageCurrent
	return st, nil
}

// modeNames are the build modes by their wire names.
var modeNames = map[string]Mode{"": Reuse, webapi.BuildReuse: Reuse, webapi.BuildRefreshAgents: RefreshAgents, webapi.BuildFull: Full}

// ParseMode reads a build mode's wire name (empty: Reuse).
func ParseMode(s string) (Mode, error) {
	m, ok := modeNames[s]
	if !ok {
		return Reuse, fmt.Errorf("build mode %q: use %s (the default), %s or %s", s, webapi.BuildReuse, webapi.BuildRefreshAgents, webapi.BuildFull)
	}
	return m, nil
}

// Wire is the event as a build stream sends it.
func (e Event) Wire() webapi.BuildEvent {
	return webapi.BuildEvent{Kind: e.Kind, Project: e.Project, Layer: e.Layer, Ref: e.Ref, Hash: e.Hash, ImageID: e.ImageID,
		Step: e.Step, Steps: e.Steps, Text: e.Text, Line: e.Line, Cached: e.Cached, Seconds: e.Duration.Seconds(),
		Agent: e.Agent, Version: e.Version, Lines: e.Lines, Error: e.Error}
}

// Wire is the result as the API shows it.
func (r Result) Wire() *webapi.BuildResult {
	out := &webapi.BuildResult{Image: r.Image, ImageID: r.ImageID, Versions: r.Versions, Layers: []webapi.BuildLayer{}}
	for _, l := range r.Layers {
		out.Layers = append(out.Layers, webapi.BuildLayer{Name: l.Name, Ref: l.Ref, ImageID: l.ImageID, Reused: l.Reused, Seconds: l.Duration.Seconds()})
	}
	return out
}
