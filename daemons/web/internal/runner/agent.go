package runner

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/images"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/projects"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/recipes"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// Builds is what the runner needs of images.Service for a project with
// a build: section: whether its image is current, and a build when the
// caller asks for one (terok task run --build).
type Builds interface {
	Status(ctx context.Context, t images.Target) (webapi.ImageStatus, error)
	Build(ctx context.Context, t images.Target, mode images.Mode, progress func(images.Event)) (images.Result, error)
}

// Recipes finds agent recipes by name (recipes.Store).
type Recipes interface {
	Get(name string) (recipes.Recipe, error)
}

// ErrImageStale means the project's built image no longer matches its
// project.yml (recipes, snippet or base changed): terok project build
// builds it again.
var ErrImageStale = fail.Sentinel(unixhttp.ErrBadRequest, http.StatusUnprocessableEntity, "image stale")

// agentPlan is what a new task runs: its agent (if any), command and
// image.
type agentPlan struct {
	agent   string
	command string
	image   string
	imageID string
}

// prepareImage builds the project's image first when the caller asked
// (--build) and it is missing or stale. It runs before the project's
// lock is taken: a build takes minutes.
func (r *Runner) prepareImage(ctx context.Context, req webapi.RunRequest) error {
	if !req.Build || r.builds == nil {
		return nil
	}
	p, _, err := r.projects.Effective(req.Project)
	if err != nil {
		return err
	}
	if !p.Build.Set() {
		return nil
	}
	tg, err := r.projects.Store().Target(p)
	if err != nil {
		return err
	}
	st, err := r.builds.Status(ctx, tg)
	if err != nil || st.State == webapi.ImageCurrent {
		return err
	}
	if _, err := r.builds.Build(ctx, tg, images.Reuse, nil); err != nil {
		return fmt.Errorf("build the image of project %s first (--build): %w", p.Name, err)
	}
	return nil
}

// plan picks what a new task of p runs: the command given, else the
// agent given (or, without agent.command, the project's default agent)
// in its headless or interactive form; and the image: the project's
// built image when it has a build: section — refused while it is
// missing or stale — else its base image.
func (r *Runner) plan(ctx context.Context, req webapi.RunRequest, mode string, p projects.Project, file string) (agentPlan, error) {
	pl := agentPlan{command: req.Command, image: p.Image}
	if req.Agent != "" && req.Command != "" {
		return pl, fail.BadRequest("give an agent (--agent) or a command (--cmd), not both")
	}
	if p.Build.Set() {
		img, id, err := r.currentImage(ctx, p)
		if err != nil {
			return pl, err
		}
		pl.image, pl.imageID = img, id
	}
	agent := req.Agent
	if agent == "" && req.Command == "" && p.Agent.Command == "" {
		agent = p.Build.Spec().Default()
	}
	if agent != "" {
		if !slices.Contains(p.Build.Agents, agent) {
			if len(p.Build.Agents) == 0 {
				return pl, fail.BadRequest("project %s has no agents in its image: add build.agents: [%s] to %s, then terok project build %s", p.Name, agent, file, p.Name)
			}
			return pl, fail.BadRequest("agent %s is not in project %s's image (build.agents: %s): add it to build.agents in %s and terok project build %s, or pick one of those", agent, p.Name, strings.Join(p.Build.Agents, ", "), file, p.Name)
		}
		if mode == webapi.ModeWeb {
			return pl, fail.BadRequest("an agent runs headless or interactive; a web task runs the project's agent.command (or --cmd)")
		}
		rc, err := r.recipe(agent)
		if err != nil {
			return pl, err
		}
		pl.agent, pl.command = agent, AgentCommand(rc, mode)
	}
	if pl.command == "" {
		pl.command = p.Agent.Command
	}
	if pl.command == "" && mode != webapi.ModeInteractive {
		return pl, fail.BadRequest("project %s has no agent command: set agent.command in %s, pass --cmd, or select an agent (build.agents and --agent)", p.Name, file)
	}
	return pl, nil
}

// currentImage returns p's built image and its id, or the refusal that
// names the command building it.
func (r *Runner) currentImage(ctx context.Context, p projects.Project) (string, string, error) {
	if r.builds == nil {
		return "", "", fail.Unavailable("project %s has a build: section, but terok-web offers no builds here", p.Name)
	}
	tg, err := r.projects.Store().Target(p)
	if err != nil {
		return "", "", err
	}
	st, err := r.builds.Status(ctx, tg)
	if err != nil {
		return "", "", err
	}
	switch st.State {
	case webapi.ImageCurrent:
		return st.Image, st.ImageID, nil
	case webapi.ImageMissing:
		return "", "", fail.New(ErrImageMissing, "%s (or terok task run --build builds it first)", st.Reason)
	case webapi.ImageStale:
		return "", "", fail.New(ErrImageStale, "%s (or terok task run --build builds it first)", st.Reason)
	}
	return st.Image, st.ImageID, nil
}

func (r *Runner) recipe(name string) (recipes.Recipe, error) {
	if r.recipes == nil {
		return recipes.Recipe{}, fail.Unavailable("agent %s: terok-web has no agent recipes here", name)
	}
	rc, err := r.recipes.Get(name)
	if err != nil {
		return rc, fmt.Errorf("agent %s: %w", name, err)
	}
	return rc, nil
}

// TaskRecipe returns the recipe of the agent t runs (ok false when t
// runs a command of its own): its vault providers (Recipe.ProviderNames),
// environment and hosts.
func (r *Runner) TaskRecipe(t tasks.Record) (recipes.Recipe, bool, error) {
	if t.Agent == "" {
		return recipes.Recipe{}, false, nil
	}
	rc, err := r.recipe(t.Agent)
	return rc, err == nil, err
}

// agentSpec adds to a run's container what its agent and project ask
// for: the recipe's environment (telemetry and update checks off; the
// project's agent.env wins), the recipe's hosts on the task's shield
// allowlist (for this task only: shown by terok shield status, removable
// with terok shield deny) and, with host_ca: tasks, the host's CA bundle.
func (r *Runner) agentSpec(spec *podmanapi.CreateSpec, t tasks.Record, p projects.Project) error {
	if t.Agent != "" {
		rc, err := r.recipe(t.Agent)
		if err != nil {
			return err
		}
		for k, v := range rc.Env {
			if _, set := p.Agent.Env[k]; !set {
				spec.Env[k] = v
			}
		}
		spec.Env["TEROK_AGENT"] = rc.Name
		if p.Shield.On() {
			var allow []string
			if cur := spec.Annotations[shieldapi.AnnotationAllow]; cur != "" {
				allow = strings.Split(cur, ",")
			}
			for _, h := range rc.Hosts() {
				if !slices.Contains(allow, h) {
					allow = append(allow, h)
				}
			}
			if len(allow) > 0 {
				spec.Annotations[shieldapi.AnnotationAllow] = strings.Join(allow, ",")
			}
		}
	}
	m, env, err := images.TaskCA(r.cfg.CABundle, p.Build.Spec())
	if err != nil {
		return fail.BadRequest("%v", err)
	}
	if m != nil {
		spec.Mounts = append(spec.Mounts, *m)
		maps.Copy(spec.Env, env)
	}
	return nil
}

// AgentCommand is the shell command line (for sh -c) that runs rc in a
// task of mode: its interactive form, else its headless form with the
// prompt read from $TEROK_PROMPT (never put into the command's text).
func AgentCommand(rc recipes.Recipe, mode string) string {
	argv := rc.Run.Headless
	if mode == webapi.ModeInteractive {
		argv = rc.Run.Interactive
	}
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a == recipes.PromptArg {
			parts[i] = `"$TEROK_PROMPT"`
			continue
		}
		parts[i] = shellQuote(a)
	}
	return strings.Join(parts, " ")
}

var plainArg = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellQuote quotes s for sh: as it is when it holds no character the
// shell treats specially, else in single quotes.
func shellQuote(s string) string {
	if plainArg.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// imageStale says why t's image is older than its project's current one
// ("" when it is not, or that cannot be told).
func (r *Runner) imageStale(ctx context.Context, t tasks.Record) string {
	if r.builds == nil || t.ImageID == "" || t.Image != images.ProjectRef(t.Project) {
		return ""
	}
	p, _, err := r.projects.Effective(t.Project)
	if err != nil || !p.Build.Set() {
		return ""
	}
	tg, err := r.projects.Store().Target(p)
	if err != nil {
		return ""
	}
	st, err := r.builds.Status(ctx, tg)
	if err != nil {
		return ""
	}
	switch {
	case st.State == webapi.ImageStale || st.State == webapi.ImageMissing:
		return "the project's image no longer matches its project.yml: " + st.Reason
	case st.ImageID != "" && st.ImageID != t.ImageID:
		return fmt.Sprintf("the project's image was rebuilt since this task started (%s is %s now, the task ran %s): a restart or a new task runs the new one",
			st.Image, short12(st.ImageID), short12(t.ImageID))
	}
	return ""
}

// ImageStale says why t's image is older than its project's current
// one: rebuilt since t's last run started, or stale or gone ("" when it
// is not, or that cannot be told).
func (r *Runner) ImageStale(ctx context.Context, t tasks.Record) string { return r.imageStale(ctx, t) }

func short12(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
