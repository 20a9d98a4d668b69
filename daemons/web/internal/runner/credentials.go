package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
	"github.com/terok-ai/terok-in-docker/daemons/vault/vaultapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/agentsettings"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/projects"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/recipes"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// Vault is what the runner needs of terok-vault (vaultapi.Client): a
// task's phantom credentials, minted at its start and revoked at its end.
type Vault interface {
	MintPhantoms(ctx context.Context, project, task string, providers []string) ([]vaultapi.Phantom, error)
	RevokeTask(ctx context.Context, project, task string) (int, error)
	Phantoms(ctx context.Context, project, task string) ([]vaultapi.Phantom, error)
	Audit(ctx context.Context, project, task string, limit int) (vaultapi.AuditReport, error)
	ListSecrets(ctx context.Context, project string) ([]vaultapi.Secret, error)
}

// Providers returns the model providers a project's tasks get phantom
// credentials for, sorted and without repeats: the project's
// agent.providers (config.yml's when the project names none). This is
// the one place that reads what a project needs of the vault.
func Providers(p projects.Project) []string {
	out := slices.Clone(p.Agent.Providers)
	slices.Sort(out)
	return slices.Compact(out)
}

// credentials are what a run of a task gets from the vault.
type credentials struct {
	// env are the agent's variables (base URLs pointing at the broker,
	// the phantoms in the providers' key variables, and
	// agentsettings.Env for base URLs kept in the agent's config file).
	env map[string]string
	// deny is the shield's deny annotation: the providers' own hosts.
	deny string
}

// credentials mints t's phantoms for the providers p needs and returns
// the variables that point its agent at the broker, as the task reaches
// it on host (the gate's host). A task that needs none gets none; one
// that needs some while the vault is missing or down does not start.
//
// The providers of the task's agent's recipe are lent too when the vault
// holds a usable key for them (for the project or globally): they are not
// required, so an agent whose key is in agent.env, or a task while the
// vault is down, still starts (noted in the timeline).
func (r *Runner) credentials(ctx context.Context, t tasks.Record, p projects.Project, host string) (credentials, error) {
	need := Providers(p)
	rc, hasRecipe, rerr := r.TaskRecipe(t)
	if rerr != nil {
		return credentials{}, rerr
	}
	if hasRecipe {
		need = append(need, r.recipeProviders(ctx, t, p, rc, need)...)
		slices.Sort(need)
		need = slices.Compact(need)
	}
	if len(need) == 0 {
		return credentials{}, nil
	}
	list := strings.Join(need, ", ")
	if r.vault == nil {
		return credentials{}, fail.Unavailable("project %s needs credentials for %s (agent.providers), and terok-web has no vault to lend them: start terok-vault, or remove agent.providers from the project", p.Name, list)
	}
	ph, err := r.vault.MintPhantoms(ctx, p.Name, t.ID, need)
	if err != nil {
		if errors.Is(err, unixhttp.ErrNotFound) {
			// An unknown provider or no secret stored for it.
			return credentials{}, fail.BadRequest("project %s needs credentials for %s: terok-vault says: %s (store one with terok secret set PROVIDER, or change agent.providers)", p.Name, list, unixhttp.Message(err))
		}
		return credentials{}, fmt.Errorf("project %s needs credentials for %s: %w", p.Name, list,
			fail.Daemon("terok-vault", "mint the task's phantom credentials", err))
	}
	// Recorded at once: whatever ends this run revokes them (revoke).
	if _, err := r.store.Update(t.ID, func(x *tasks.Record) { x.Phantoms = len(ph) }); err != nil {
		return credentials{}, fmt.Errorf("record the task's phantoms: %w", err)
	}
	broker := "http://" + net.JoinHostPort(host, strconv.Itoa(r.cfg.VaultPort))
	c := credentials{env: map[string]string{}}
	var upstreams []string
	var settings []agentsettings.Setting
	for _, x := range ph {
		for k, v := range x.Environment(broker) {
			c.env[k] = v
		}
		if hasRecipe {
			env, set := recipeEnv(rc, x, broker)
			for k, v := range env {
				c.env[k] = v
			}
			settings = append(settings, set...)
		}
		upstreams = append(upstreams, x.Upstream)
	}
	if len(settings) > 0 {
		v, err := agentsettings.Encode(settings)
		if err != nil {
			return credentials{}, fmt.Errorf("point the agent %s at the broker: %w", rc.Name, err)
		}
		c.env[agentsettings.Env] = v
	}
	if c.deny, err = shieldapi.DenyValue(upstreams...); err != nil {
		return credentials{}, fmt.Errorf("keep the providers' own hosts from the task: %w", err)
	}
	r.note(t, tasks.Entry{Kind: webapi.EntryNote, Detail: fmt.Sprintf("credentials: %d phantom(s) minted (%s) for the vault's broker at %s; the providers' hosts are denied to the task", len(ph), list, broker)})
	for _, s := range settings {
		r.note(t, tasks.Entry{Kind: webapi.EntryNote, Detail: fmt.Sprintf("credentials: terok-entry sets %s in %s to the broker before the agent runs", s.Key, s.File)})
	}
	return c, nil
}

// revokeCredentials ends the phantoms of t's run, if it was lent any
// (the record's Phantoms, set as soon as they were minted), and notes
// how many. Phantoms the record missed (terok-web died right after the
// mint) are revoked by the next reconcile.
func (r *Runner) revokeCredentials(t tasks.Record) {
	if cur, err := r.store.Get(t.ID); err == nil {
		t = cur
	}
	if r.vault == nil || t.Phantoms == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := r.vault.RevokeTask(ctx, t.Project, t.ID)
	if err != nil {
		r.log.Warn().Err(err).Str("task", t.ID).Msg("revoke the task's phantoms (reconcile retries)")
		r.note(t, tasks.Entry{Kind: webapi.EntryNote, Detail: "credentials: revoking the phantoms failed (retried until the vault answers): " + unixhttp.Message(err)})
		r.retryRevokes()
		return
	}
	if _, err := r.store.Update(t.ID, func(x *tasks.Record) { x.Phantoms = 0 }); err != nil {
		r.log.Warn().Err(err).Str("task", t.ID).Msg("record the phantoms' revocation")
	}
	r.note(t, tasks.Entry{Kind: webapi.EntryNote, Detail: fmt.Sprintf("credentials: %d phantom(s) revoked", n)})
	// What the task sent through the broker, as counts (terok-vault audit
	// PROJECT TASK has each request).
	if rep, err := r.vault.Audit(ctx, t.Project, t.ID, 0); err == nil {
		c := rep.Counts
		r.note(t, tasks.Entry{Kind: webapi.EntryNote, Detail: fmt.Sprintf("credentials: the broker handled %d request(s) of this task: %d forwarded, %d refused", c.Requests, c.Forwarded, c.Refused)})
	} else {
		r.log.Warn().Err(err).Str("task", t.ID).Msg("read the task's broker audit")
	}
}

// revokeRetry is how often phantoms of ended tasks are revoked again
// while the vault does not answer.
var revokeRetry = 30 * time.Second

// retryRevokes starts (once at a time) the loop that revokes the live
// phantoms of ended tasks until the vault answers.
func (r *Runner) retryRevokes() {
	r.mu.Lock()
	if r.revoking {
		r.mu.Unlock()
		return
	}
	r.revoking = true
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer func() {
			r.mu.Lock()
			r.revoking = false
			r.mu.Unlock()
		}()
		for {
			select {
			case <-r.ctx.Done():
				return
			case <-time.After(revokeRetry):
			}
			if err := r.revokeEnded(r.ctx); err == nil {
				return
			}
		}
	}()
}

// revokeEnded revokes the live phantoms of every task terok-web knows
// that has ended (tasks that ended while it or the vault was down).
// Phantoms of tasks it does not know were minted by someone else
// (terok-vault phantom mint): not its to revoke.
func (r *Runner) revokeEnded(ctx context.Context) error {
	if r.vault == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	list, err := r.vault.Phantoms(ctx, "", "")
	if err != nil {
		return fail.Daemon("terok-vault", "list phantoms", err)
	}
	done := map[[2]string]bool{}
	for _, ph := range list {
		if ph.Revoked != nil || done[[2]string{ph.Project, ph.Task}] {
			continue
		}
		t, err := r.store.Get(ph.Task)
		if err != nil || t.Project != ph.Project || !t.Done() {
			continue
		}
		n, err := r.vault.RevokeTask(ctx, ph.Project, ph.Task)
		if err != nil {
			return fail.Daemon("terok-vault", "revoke an ended task's phantoms", err)
		}
		done[[2]string{ph.Project, ph.Task}] = true
		r.note(t, tasks.Entry{Kind: webapi.EntryNote, Detail: fmt.Sprintf("credentials: %d phantom(s) revoked after the task ended", n)})
		r.log.Info().Str("task", ph.Task).Str("project", ph.Project).Int("phantoms", n).Msg("revoked the phantoms of an ended task")
	}
	return nil
}

// recipeProviders are the providers of rc (the task's agent) that the
// project does not require but the vault holds a usable key for.
func (r *Runner) recipeProviders(ctx context.Context, t tasks.Record, p projects.Project, rc recipes.Recipe, required []string) []string {
	var want []string
	for _, name := range rc.ProviderNames() {
		if !slices.Contains(required, name) {
			want = append(want, name)
		}
	}
	if len(want) == 0 || r.vault == nil {
		return nil
	}
	have, err := r.vault.ListSecrets(ctx, p.Name)
	if err != nil {
		r.note(t, tasks.Entry{Kind: webapi.EntryNote, Detail: fmt.Sprintf("credentials: terok-vault did not answer (%s); the agent %s gets no phantom for %s and uses what agent.env gives it", unixhttp.Message(err), rc.Name, strings.Join(want, ", "))})
		return nil
	}
	var out []string
	for _, name := range want {
		for _, s := range have {
			if s.Provider == name && s.Problem == "" && (s.Project == "" || s.Project == p.Name) {
				out = append(out, name)
				break
			}
		}
	}
	return out
}

// recipeEnv points the agent at the broker the way its recipe says, for
// the recipe's provider of phantom x: the base URL (the broker and the
// phantom's path, in the recipe's format) in the recipe's variable, or
// as a setting terok-entry writes into the recipe's config file
// (agentsettings.Env), and the phantom in the key variables.
func recipeEnv(rc recipes.Recipe, x vaultapi.Phantom, broker string) (map[string]string, []agentsettings.Setting) {
	out := map[string]string{}
	var settings []agentsettings.Setting
	for _, pr := range rc.Vault.Providers {
		if pr.Name != x.Provider {
			continue
		}
		url := pr.BaseURL.URL(strings.TrimRight(broker, "/") + x.PathPrefix)
		switch {
		case pr.BaseURL.Env != "":
			out[pr.BaseURL.Env] = url
		case pr.BaseURL.Config != "":
			settings = append(settings, agentsettings.Setting{File: pr.BaseURL.File, Key: pr.BaseURL.Config, Value: url})
		}
		for _, k := range pr.KeyEnv {
			out[k] = x.Token
		}
	}
	return out, settings
}
