package guard

import (
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/owners"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/repos"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/tokens"
)

const (
	zero = ""
	h1   = "1111111111111111111111111111111111111111"
	h2   = "2222222222222222222222222222222222222222"
)

func upd(ref, old, new string) repos.RefUpdate {
	return repos.RefUpdate{Ref: ref, Old: plumbing.NewHash(old), New: plumbing.NewHash(new)}
}

func TestDecide(t *testing.T) {
	task := tokens.Identity{Kind: tokens.KindTask, Project: "p", Task: "t1", ID: "t-1"}
	followUp := tokens.Identity{Kind: tokens.KindTask, Project: "p", Task: "t1", ID: "t-2"}
	admin := tokens.Identity{Kind: tokens.KindAdmin}
	owner := map[string]string{"refs/heads/agent/t1": "t1", "refs/heads/mine": "t1", "refs/heads/agent/t2": "t2"}
	for _, tc := range []struct {
		name string
		who  tokens.Identity
		u    repos.RefUpdate
		want string // "" allowed, else a part of the reason
	}{
		{"task creates its agent branch", task, upd("refs/heads/agent/t1", zero, h1), ""},
		{"task creates a sub-branch of its agent name", task, upd("refs/heads/agent/t1/try", zero, h1), ""},
		{"task creates a free branch", task, upd("refs/heads/fix-login", zero, h1), ""},
		{"task force-moves its own branch", task, upd("refs/heads/mine", h1, h2), ""},
		{"task deletes its own branch", task, upd("refs/heads/mine", h1, zero), ""},
		{"follow-up token of the same task updates it", followUp, upd("refs/heads/agent/t1", h1, h2), ""},
		{"task fast-forwards the default branch", task, upd("refs/heads/main", h1, h2), "cannot update main: it is the default branch"},
		{"task creates the default branch", task, upd("refs/heads/main", zero, h1), "cannot create main: it is the default branch"},
		{"task deletes the default branch", task, upd("refs/heads/main", h1, zero), "cannot delete main"},
		{"task creates a tag", task, upd("refs/tags/v1", zero, h1), "cannot create tag v1: tags are the user's"},
		{"task moves a tag", task, upd("refs/tags/v1", h1, h2), "cannot update tag v1"},
		{"task deletes a tag", task, upd("refs/tags/v1", h1, zero), "cannot delete tag v1"},
		{"task pushes outside heads", task, upd("refs/remotes/upstream/main", zero, h1), "may only push branches"},
		{"task updates a user's branch", task, upd("refs/heads/release", h1, h2), "cannot update release: the branch is the user's"},
		{"task deletes a user's branch", task, upd("refs/heads/release", h1, zero), "cannot delete release: the branch is the user's"},
		{"task updates another task's branch", task, upd("refs/heads/agent/t2", h1, h2), "the branch belongs to task t2"},
		{"task deletes another task's branch", task, upd("refs/heads/agent/t2", h1, zero), "the branch belongs to task t2"},
		{"task creates another task's agent name", task, upd("refs/heads/agent/t3", zero, h1), "agent/t3 is the branch name of task t3"},
		{"task creates under another task's agent name", task, upd("refs/heads/agent/t1x/a", zero, h1), "branch name of task t1x"},
		{"admin moves the default branch", admin, upd("refs/heads/main", h1, h2), ""},
		{"admin deletes a task's branch", admin, upd("refs/heads/agent/t2", h1, zero), ""},
		{"admin moves a tag", admin, upd("refs/tags/v1", h1, h2), ""},
		{"no identity", tokens.Identity{}, upd("refs/heads/x", zero, h1), "cannot tell whose push"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Decide(tc.who, "main", owner, tc.u)
			switch {
			case tc.want == "" && got != "":
				t.Fatalf("refused: %s", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Fatalf("got %q, want it to say %q", got, tc.want)
			}
		})
	}
}

// fakeRepos is the seam of a unit test: every approved update "landed".
type fakeRepos struct{ dir string }

func (f fakeRepos) Dir(string) string           { return f.dir }
func (f fakeRepos) DefaultBranch(string) string { return "main" }
func (f fakeRepos) Applied(_ string, ups []repos.RefUpdate) []repos.RefUpdate {
	return ups
}

func TestTicketReservesRefsUntilFinish(t *testing.T) {
	o := &owners.Store{}
	dir := t.TempDir()
	g := New(fakeRepos{dir: dir}, o, zerolog.Nop())
	t1 := tokens.Identity{Kind: tokens.KindTask, Task: "t1"}
	t2 := tokens.Identity{Kind: tokens.KindTask, Task: "t2"}
	create := upd("refs/heads/x", zero, h1)

	a := g.Begin("p", t1)
	if msgs := a.Check([]repos.RefUpdate{create}); len(msgs) != 0 {
		t.Fatalf("first create refused: %v", msgs)
	}
	// While a's push is in progress, the same ref is refused to anyone.
	b := g.Begin("p", t2)
	if msgs := b.Check([]repos.RefUpdate{upd("refs/heads/y", zero, h1), create}); len(msgs) != 1 ||
		msgs[0] != "terok-gate: another push is changing x right now; push again when it is done" {
		t.Fatalf("concurrent create: %v", msgs)
	}
	// b reserved nothing: y is free for another push.
	if msgs := g.Begin("p", t2).Check([]repos.RefUpdate{upd("refs/heads/y", zero, h1)}); len(msgs) != 0 {
		t.Fatalf("y after a refused push: %v", msgs)
	}
	// Another repository is another namespace.
	if msgs := g.Begin("q", t2).Check([]repos.RefUpdate{create}); len(msgs) != 0 {
		t.Fatalf("same ref in another repository: %v", msgs)
	}
	if landed := a.Finish(); len(landed) != 1 {
		t.Fatalf("landed: %v", landed)
	}
	if again := a.Finish(); again != nil {
		t.Fatalf("second Finish: %v", again)
	}
	if msgs := a.Check([]repos.RefUpdate{create}); len(msgs) == 0 {
		t.Fatal("a finished ticket approved a check")
	}
	got, err := o.Read(dir)
	if err != nil || got["refs/heads/x"] != "t1" {
		t.Fatalf("owners after a's push: %v %v", got, err)
	}
	// Now x is t1's: t2 may not move it, t1's follow-up may.
	if msgs := g.Begin("p", t2).Check([]repos.RefUpdate{upd("refs/heads/x", h1, h2)}); len(msgs) != 1 {
		t.Fatalf("t2 moves t1's branch: %v", msgs)
	}
	c := g.Begin("p", tokens.Identity{Kind: tokens.KindTask, Task: "t1", ID: "t-other"})
	if msgs := c.Check([]repos.RefUpdate{upd("refs/heads/x", h1, zero)}); len(msgs) != 0 {
		t.Fatalf("t1's follow-up deletes its branch: %v", msgs)
	}
	c.Finish()
	if got, _ := o.Read(dir); len(got) != 0 {
		t.Fatalf("owners after the deletion: %v", got)
	}
}
