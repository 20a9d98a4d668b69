package guard

import (
	"fmt"
	"strings"
	"sync"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/owners"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/repos"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/tokens"
)

// TaskBranchPrefix starts the branch names reserved to one task each:
// agent/<task id> (and agent/<task id>/…) may be created only by that task.
const TaskBranchPrefix = "agent/"

// Repos is what the guard needs to know about repositories.
type Repos interface {
	Dir(name string) string
	DefaultBranch(name string) string
	// Applied returns the updates whose ref now holds the new value.
	Applied(name string, ups []repos.RefUpdate) []repos.RefUpdate
}

// Guard decides pushes and keeps the branch owner records.
type Guard struct {
	repos  Repos
	owners *owners.Store
	log    zerolog.Logger

	mu   sync.Mutex
	busy map[string]bool // project + "\x00" + ref, reserved by a push in progress
}

// New returns a guard over r, keeping owners in o.
func New(r Repos, o *owners.Store, log zerolog.Logger) *Guard {
	return &Guard{repos: r, owners: o, log: log, busy: map[string]bool{}}
}

// Ticket is one push's passage through the guard: Check (once, from the
// pre-receive hook), then Finish (always, once git is done).
type Ticket struct {
	g        *Guard
	project  string
	who      tokens.Identity
	mu       sync.Mutex
	approved []repos.RefUpdate
	finished bool
}

// Begin starts a push by who into project.
func (g *Guard) Begin(project string, who tokens.Identity) *Ticket {
	return &Ticket{g: g, project: project, who: who}
}

// Check decides the updates git is about to make. It returns the lines
// git shows the pusher (each "terok-gate: …"), none when the push may go
// ahead; then its refs stay reserved until Finish.
func (t *Ticket) Check(ups []repos.RefUpdate) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.finished || t.approved != nil {
		return []string{"terok-gate: this push was already checked; push again"}
	}
	g := t.g
	var owner map[string]string
	def := g.repos.DefaultBranch(t.project)
	if t.who.Kind != tokens.KindAdmin {
		if t.who.Kind != tokens.KindTask || t.who.Task == "" || def == "" {
			return []string{"terok-gate: the gate cannot tell who pushes or what the default branch is; push refused"}
		}
		var err error
		if owner, err = g.owners.Read(g.repos.Dir(t.project)); err != nil {
			g.log.Error().Err(err).Str("repo", t.project).Msg("push refused: branch owners unreadable")
			return []string{"terok-gate: the gate cannot read who owns this repository's branches (its log says why); push refused"}
		}
	}
	var refusals []string
	for _, u := range ups {
		if why := Decide(t.who, def, owner, u); why != "" {
			refusals = append(refusals, "terok-gate: "+why)
		}
	}
	if len(refusals) > 0 {
		g.log.Info().Str("repo", t.project).Str("task", t.who.Task).Strs("refusals", refusals).Msg("push refused")
		return refusals
	}
	// Reserve every ref, or none.
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, u := range ups {
		if g.busy[t.project+"\x00"+u.Ref] {
			return []string{fmt.Sprintf("terok-gate: another push is changing %s right now; push again when it is done", short(u.Ref))}
		}
	}
	for _, u := range ups {
		g.busy[t.project+"\x00"+u.Ref] = true
	}
	t.approved = append([]repos.RefUpdate{}, ups...)
	return nil
}

// Finish ends the push: it records the owners of the branches that
// landed (a task's new branch is its task's; a branch created with the
// admin token, and any deleted branch, has none), releases the reserved
// refs and returns the updates that landed. It is safe to call more than
// once; later calls return nothing.
func (t *Ticket) Finish() []repos.RefUpdate {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.finished {
		return nil
	}
	t.finished = true
	if len(t.approved) == 0 {
		return nil
	}
	g := t.g
	defer func() {
		g.mu.Lock()
		for _, u := range t.approved {
			delete(g.busy, t.project+"\x00"+u.Ref)
		}
		g.mu.Unlock()
	}()
	landed := g.repos.Applied(t.project, t.approved)
	set := map[string]string{}
	var drop []string
	for _, u := range landed {
		if !strings.HasPrefix(u.Ref, "refs/heads/") {
			continue
		}
		switch {
		case u.New.IsZero():
			drop = append(drop, u.Ref)
		case u.Old.IsZero() && t.who.Kind == tokens.KindTask:
			set[u.Ref] = t.who.Task
		case u.Old.IsZero():
			drop = append(drop, u.Ref)
		}
	}
	if len(set) > 0 || len(drop) > 0 {
		if err := g.owners.Change(g.repos.Dir(t.project), set, drop); err != nil {
			// The push landed; the task loses rights to what it created
			// (fail closed) and the operator learns why.
			g.log.Error().Err(err).Str("repo", t.project).Str("task", t.who.Task).Msg("record branch owners")
		}
	}
	return landed
}

// Forget drops the owner records of branches the gate itself created
// (an upstream sync): they are the user's.
func (g *Guard) Forget(project string, refs []string) error {
	if len(refs) == 0 {
		return nil
	}
	return g.owners.Change(g.repos.Dir(project), nil, refs)
}

// Decide returns why who may not make update u in a repository whose
// default branch is def and whose branch owners are owner (full ref name
// to task id); "" when it may. The admin token may make any update.
func Decide(who tokens.Identity, def string, owner map[string]string, u repos.RefUpdate) string {
	switch {
	case who.Kind == tokens.KindAdmin:
		return ""
	case who.Kind != tokens.KindTask || who.Task == "":
		return "the gate cannot tell whose push this is; push refused"
	}
	action := "update"
	switch {
	case u.Old.IsZero():
		action = "create"
	case u.New.IsZero():
		action = "delete"
	}
	own := TaskBranchPrefix + who.Task
	branch, isBranch := strings.CutPrefix(u.Ref, "refs/heads/")
	switch {
	case strings.HasPrefix(u.Ref, "refs/tags/"):
		return fmt.Sprintf("cannot %s tag %s: tags are the user's, a task may not create, move or delete them; push a branch (git push origin HEAD:%s)",
			action, strings.TrimPrefix(u.Ref, "refs/tags/"), own)
	case !isBranch:
		return fmt.Sprintf("cannot %s %s: a task may only push branches (refs/heads/…); push one (git push origin HEAD:%s)", action, u.Ref, own)
	case branch == def:
		return fmt.Sprintf("cannot %s %s: it is the default branch, which is the user's; a task may not create, move or delete it; push the task's own branch (git push origin HEAD:%s)",
			action, branch, own)
	case action == "create":
		if rest, ok := strings.CutPrefix(branch, TaskBranchPrefix); ok {
			id, _, _ := strings.Cut(rest, "/")
			if id != who.Task {
				return fmt.Sprintf("cannot create %s: agent/%s is the branch name of task %s; a task creates only its own agent/%s, or branches outside agent/",
					branch, id, id, who.Task)
			}
		}
		return ""
	}
	switch o := owner[u.Ref]; {
	case o == who.Task:
		return ""
	case o == "":
		return fmt.Sprintf("cannot %s %s: the branch is the user's (made with the admin token, by an upstream sync, or before the gate kept owners); a task may only update or delete branches it created; push a new branch (git push origin HEAD:%s)",
			action, branch, own)
	default:
		return fmt.Sprintf("cannot %s %s: the branch belongs to task %s; a task may only update or delete branches it created; push a new branch (git push origin HEAD:%s)",
			action, branch, o, own)
	}
}

func short(ref string) string {
	if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
		return b
	}
	return ref
}
