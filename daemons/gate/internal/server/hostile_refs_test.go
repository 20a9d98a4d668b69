package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// The hostile agent's side of the gate: a task token pushing what is not
// its own. Every refusal is checked in git's own output, the ref is
// checked unchanged in the gate, and the admin token then does the same
// thing successfully.

// refused runs a push that must fail and checks git's output for the
// gate's reason and git's "pre-receive hook declined".
func refused(t *testing.T, gr *gitRunner, dir, why string, args ...string) {
	t.Helper()
	out, err := gr.try(dir, append([]string{"push"}, args...)...)
	if err == nil {
		t.Fatalf("git push %s by a task was accepted:\n%s", strings.Join(args, " "), out)
	}
	if !strings.Contains(out, "remote: terok-gate: "+why) || !strings.Contains(out, "(pre-receive hook declined)") {
		t.Fatalf("git push %s: want the gate's reason %q in git's output, got:\n%s", strings.Join(args, " "), why, out)
	}
}

// refOf returns what ref holds in the gate's repository ("" when absent).
func refOf(gr *gitRunner, g *gate, project, ref string) string {
	out, _ := gr.try(g.srvDir(project), "rev-parse", "-q", "--verify", ref)
	return strings.TrimSpace(out)
}

// taskClone clones project with a new token of task into a fresh dir.
func taskClone(t *testing.T, g *gate, gr *gitRunner, project, task string) string {
	t.Helper()
	dir := filepath.Join(tempDir(t), task)
	gr.run("", "clone", "-q", g.url(g.mint(project, task), project), dir)
	return dir
}

func TestHostileTaskMovesDefaultBranch(t *testing.T) {
	gr := newGit(t)
	g := startGate(t, tempDir(t))
	seedDir := seed(t, g, gr, "proj")
	main := gr.run(seedDir, "rev-parse", "HEAD")
	c := taskClone(t, g, gr, "proj", "t1")
	ahead := gr.commit(c, "evil.txt", "x\n", "agent work on main")

	// A fast-forward, a force-push and a deletion of main: all refused.
	refused(t, gr, c, "cannot update main: it is the default branch, which is the user's; a task may not create, move or delete it; push the task's own branch (git push origin HEAD:agent/t1)",
		"origin", "HEAD:main")
	refused(t, gr, c, "cannot update main: it is the default branch", "-f", "origin", "HEAD~3:main")
	refused(t, gr, c, "cannot delete main: it is the default branch", "origin", ":main")
	if got := refOf(gr, g, "proj", "refs/heads/main"); got != main {
		t.Fatalf("main moved by refused pushes: %s", got)
	}
	// The same commit on the task's own branch is fine; the admin may
	// move main.
	gr.run(c, "push", "-q", "origin", "HEAD:agent/t1")
	gr.run(c, "push", "-q", g.url(g.admin, "proj"), "HEAD:main")
	if got := refOf(gr, g, "proj", "refs/heads/main"); got != ahead {
		t.Fatalf("admin fast-forward of main: %s", got)
	}
}

func TestHostileTaskCreatesDefaultBranchInEmptyRepo(t *testing.T) {
	gr := newGit(t)
	g := startGate(t, tempDir(t))
	g.createRepo("empty")
	c := filepath.Join(tempDir(t), "c")
	gr.run("", "clone", "-q", g.url(g.mint("empty", "t1"), "empty"), c)
	gr.commit(c, "a.txt", "a\n", "first")
	refused(t, gr, c, "cannot create main: it is the default branch, which is the user's", "origin", "HEAD:main")
	if got := refOf(gr, g, "empty", "refs/heads/main"); got != "" {
		t.Fatalf("a task created main: %s", got)
	}
	// Its own branch lands in the empty repository.
	gr.run(c, "push", "-q", "origin", "HEAD:agent/t1")
	gr.run(c, "push", "-q", g.url(g.admin, "empty"), "HEAD:main")
}

func TestHostileTaskTouchesTags(t *testing.T) {
	gr := newGit(t)
	g := startGate(t, tempDir(t))
	seedDir := seed(t, g, gr, "proj")
	gr.run(seedDir, "tag", "v1", "HEAD~1")
	gr.run(seedDir, "push", "-q", "origin", "v1")
	v1 := refOf(gr, g, "proj", "refs/tags/v1")
	c := taskClone(t, g, gr, "proj", "t1")

	gr.run(c, "tag", "v2")
	refused(t, gr, c, "cannot create tag v2: tags are the user's, a task may not create, move or delete them", "origin", "v2")
	gr.run(c, "tag", "-f", "v1", "HEAD")
	refused(t, gr, c, "cannot update tag v1: tags are the user's", "-f", "origin", "v1")
	refused(t, gr, c, "cannot delete tag v1: tags are the user's", "origin", ":refs/tags/v1")
	if got := refOf(gr, g, "proj", "refs/tags/v1"); got != v1 {
		t.Fatalf("v1 moved by refused pushes: %s", got)
	}
	if got := refOf(gr, g, "proj", "refs/tags/v2"); got != "" {
		t.Fatalf("a task created v2: %s", got)
	}
	admin := g.url(g.admin, "proj")
	gr.run(c, "push", "-q", admin, "v2")
	gr.run(c, "push", "-q", "-f", admin, "v1")
	gr.run(c, "push", "-q", admin, ":refs/tags/v1")
}

func TestHostileTaskTouchesUserBranch(t *testing.T) {
	gr := newGit(t)
	g := startGate(t, tempDir(t))
	seedDir := seed(t, g, gr, "proj")
	// The user's branch, made with the admin token.
	gr.run(seedDir, "push", "-q", "origin", "HEAD~1:refs/heads/release")
	release := refOf(gr, g, "proj", "refs/heads/release")
	c := taskClone(t, g, gr, "proj", "t1")
	gr.commit(c, "x.txt", "x\n", "agent work")

	refused(t, gr, c, "cannot update release: the branch is the user's (made with the admin token, by an upstream sync, or before the gate kept owners); a task may only update or delete branches it created",
		"origin", "HEAD:release")
	refused(t, gr, c, "cannot update release: the branch is the user's", "-f", "origin", "HEAD~3:release")
	refused(t, gr, c, "cannot delete release: the branch is the user's", "origin", ":release")
	if got := refOf(gr, g, "proj", "refs/heads/release"); got != release {
		t.Fatalf("release moved by refused pushes: %s", got)
	}
	admin := g.url(g.admin, "proj")
	gr.run(c, "push", "-q", admin, "HEAD:release")
	gr.run(c, "push", "-q", admin, ":release")
	// Deleted by the admin and made again by the task: now the task's.
	gr.run(c, "push", "-q", "origin", "HEAD:release")
	gr.run(c, "push", "-q", "-f", "origin", "HEAD~1:release")
}

func TestHostileTaskTouchesAnotherTasksBranch(t *testing.T) {
	gr := newGit(t)
	g := startGate(t, tempDir(t))
	seed(t, g, gr, "proj")
	c2 := taskClone(t, g, gr, "proj", "t2")
	gr.commit(c2, "t2.txt", "2\n", "t2 work")
	gr.run(c2, "push", "-q", "origin", "HEAD:agent/t2", "HEAD:shared-name")
	t2 := refOf(gr, g, "proj", "refs/heads/agent/t2")

	c1 := taskClone(t, g, gr, "proj", "t1")
	gr.commit(c1, "t1.txt", "1\n", "t1 work")
	for _, b := range []string{"agent/t2", "shared-name"} {
		refused(t, gr, c1, "cannot update "+b+": the branch belongs to task t2; a task may only update or delete branches it created",
			"-f", "origin", "HEAD:"+b)
		refused(t, gr, c1, "cannot delete "+b+": the branch belongs to task t2", "origin", ":"+b)
		if got := refOf(gr, g, "proj", "refs/heads/"+b); got != t2 {
			t.Fatalf("%s moved by refused pushes: %s", b, got)
		}
	}
	// Another task's agent/<id> name is not free for the taking.
	refused(t, gr, c1, "cannot create agent/t3: agent/t3 is the branch name of task t3", "origin", "HEAD:agent/t3")
	// One bad ref refuses the whole push: the good one does not land.
	refused(t, gr, c1, "cannot update agent/t2", "-f", "origin", "HEAD:agent/t1", "HEAD:agent/t2")
	if got := refOf(gr, g, "proj", "refs/heads/agent/t1"); got != "" {
		t.Fatalf("a refused push landed a ref: %s", got)
	}
	// The admin may move and delete a task's branch.
	admin := g.url(g.admin, "proj")
	gr.run(c1, "push", "-q", "-f", admin, "HEAD:agent/t2")
	gr.run(c1, "push", "-q", admin, ":agent/t2")
}

// TestHostileOwnershipIsPerTaskAndDurable: a task force-pushes and
// deletes its own branch; a follow-up run of the same task (a new token)
// keeps its rights across a gate restart, and another task never gets
// them, not even through a follow-up token of its own.
func TestHostileOwnershipIsPerTaskAndDurable(t *testing.T) {
	gr := newGit(t)
	root := tempDir(t)
	g := startGate(t, root)
	seed(t, g, gr, "proj")
	c := taskClone(t, g, gr, "proj", "t1")
	first := gr.commit(c, "a.txt", "a\n", "first try")
	gr.run(c, "push", "-q", "origin", "HEAD:agent/t1", "HEAD:scratch")
	gr.run(c, "commit", "-q", "--amend", "-m", "first try, reworded")
	gr.run(c, "push", "-q", "-f", "origin", "HEAD:agent/t1")
	gr.run(c, "push", "-q", "origin", ":scratch")
	if refOf(gr, g, "proj", "refs/heads/scratch") != "" || refOf(gr, g, "proj", "refs/heads/agent/t1") == first {
		t.Fatal("the task's own force-push or deletion did not land")
	}
	g.stop()

	g2 := startGate(t, root)
	follow := filepath.Join(tempDir(t), "follow")
	gr.run("", "clone", "-q", "-b", "agent/t1", g2.url(g2.mint("proj", "t1"), "proj"), follow)
	next := gr.commit(follow, "b.txt", "b\n", "follow-up work")
	gr.run(follow, "push", "-q", "origin", "HEAD:agent/t1")
	if got := refOf(gr, g2, "proj", "refs/heads/agent/t1"); got != next {
		t.Fatalf("follow-up push: %s, want %s", got, next)
	}
	other := filepath.Join(tempDir(t), "other")
	gr.run("", "clone", "-q", g2.url(g2.mint("proj", "t2"), "proj"), other)
	gr.commit(other, "c.txt", "c\n", "other task")
	refused(t, gr, other, "cannot update agent/t1: the branch belongs to task t1", "-f", "origin", "HEAD:agent/t1")
	// The task's branch deleted, the record goes with it: another task
	// may then create a branch of that name (not agent/t1) and own it.
	gr.run(follow, "push", "-q", "origin", "HEAD:free", ":agent/t1")
	gr.run(follow, "push", "-q", "origin", ":free")
	gr.run(other, "push", "-q", "origin", "HEAD:free")
	refused(t, gr, follow, "cannot update free: the branch belongs to task t2", "-f", "origin", "HEAD:free")
	b, err := os.ReadFile(filepath.Join(g2.srvDir("proj"), "terok-owners.json"))
	if err != nil || !strings.Contains(string(b), `"refs/heads/free": "t2"`) || strings.Contains(string(b), "agent/t1") {
		t.Fatalf("owner record: %s %v", b, err)
	}
}

// TestHostileTwoTasksCreateOneBranch: two tasks push the same new branch
// name at once, many times over. Exactly one push lands each time, and
// its task alone may then move the branch.
func TestHostileTwoTasksCreateOneBranch(t *testing.T) {
	gr := newGit(t)
	g := startGate(t, tempDir(t))
	seed(t, g, gr, "proj")
	cs := map[string]string{"t1": taskClone(t, g, gr, "proj", "t1"), "t2": taskClone(t, g, gr, "proj", "t2")}
	heads := map[string]string{}
	for task, c := range cs {
		heads[task] = gr.commit(c, task+".txt", task+"\n", "work of "+task)
	}
	for round := 0; round < 8; round++ {
		b := fmt.Sprintf("race/%d", round)
		var wg sync.WaitGroup
		errs := map[string]error{}
		var mu sync.Mutex
		for task, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := gr.try(c, "push", "-q", "origin", "HEAD:"+b)
				mu.Lock()
				errs[task] = err
				mu.Unlock()
			}()
		}
		wg.Wait()
		got := refOf(gr, g, "proj", "refs/heads/"+b)
		var winner, loser string
		for task := range cs {
			if heads[task] == got {
				winner = task
			} else {
				loser = task
			}
		}
		if winner == "" || errs[winner] != nil || errs[loser] == nil {
			t.Fatalf("round %d: branch at %s, push errors %v", round, got, errs)
		}
		refused(t, gr, cs[loser], "cannot update "+b+": the branch belongs to task "+winner, "-f", "origin", "HEAD:"+b)
		gr.run(cs[winner], "push", "-q", "-f", "origin", "HEAD~1:"+b)
	}
}

// TestHostileOnlineNeverDeletesUpstream: in online mode a task deletes
// its own branch in the gate; the upstream keeps it. A push the gate
// refuses (a move of main) is not forwarded either.
func TestHostileOnlineNeverDeletesUpstream(t *testing.T) {
	gr := newGit(t)
	g := startGate(t, tempDir(t))
	upBare, _ := upstream(t, gr)
	if _, _, err := g.api.EnsureRepo(g.ctx(), gateapi.EnsureRepoRequest{Name: "on", Upstream: upBare, Policy: gateapi.PolicyOnline}); err != nil {
		t.Fatal(err)
	}
	upMain := gr.run("", "--git-dir", upBare, "rev-parse", "main")
	c := taskClone(t, g, gr, "on", "t1")
	head := gr.commit(c, "w", "w\n", "online work")
	gr.run(c, "push", "-q", "origin", "HEAD:agent/t1")
	waitForward(t, g, "on", func(f *gateapi.Forward) bool { return len(f.Refs) == 1 })
	if got := gr.run("", "--git-dir", upBare, "rev-parse", "agent/t1"); got != head {
		t.Fatalf("upstream agent/t1 %s, want %s", got, head)
	}
	refused(t, gr, c, "cannot update main: it is the default branch", "origin", "HEAD:main")
	gr.run(c, "push", "-q", "origin", ":agent/t1")
	f := waitForward(t, g, "on", func(f *gateapi.Forward) bool { return len(f.Kept) == 1 })
	if f.Kept[0] != "refs/heads/agent/t1" || len(f.Refs) != 0 || f.Error != "" {
		t.Fatalf("forward of a deletion: %+v", f)
	}
	if got := gr.run("", "--git-dir", upBare, "rev-parse", "agent/t1"); got != head {
		t.Fatalf("upstream agent/t1 after the gate's deletion: %s, want %s", got, head)
	}
	if got := gr.run("", "--git-dir", upBare, "rev-parse", "main"); got != upMain {
		t.Fatalf("upstream main moved: %s", got)
	}
	// A branch new in the gate whose name the upstream already has (made
	// there since the last sync) is not forwarded over it.
	gr.run("", "--git-dir", upBare, "update-ref", "refs/heads/theirs", upMain)
	gr.run(c, "push", "-q", "origin", "HEAD:theirs")
	f = waitForward(t, g, "on", func(f *gateapi.Forward) bool { return len(f.Kept) == 1 && f.Kept[0] == "refs/heads/theirs" })
	if got := gr.run("", "--git-dir", upBare, "rev-parse", "theirs"); got != upMain {
		t.Fatalf("upstream theirs moved by a forward: %s (%+v)", got, f)
	}
}

// waitForward waits (bounded) until the repository's last forward
// satisfies ok, and returns it.
func waitForward(t *testing.T, g *gate, name string, ok func(*gateapi.Forward) bool) *gateapi.Forward {
	t.Helper()
	var last *gateapi.Forward
	for i := 0; i < 300; i++ { // 30 s
		d, err := g.api.Repo(g.ctx(), name)
		if err == nil && d.LastForward != nil {
			last = d.LastForward
			if ok(last) {
				return last
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("last forward of %s never matched; last %+v", name, last)
	return nil
}

// TestHostilePromoteStaleCommit: the reviewer looked at one commit; the
// task pushed another since. Promote with the reviewed commit is refused
// (409 naming the new head) and nothing reaches the upstream; with the
// new head it goes.
func TestHostilePromoteStaleCommit(t *testing.T) {
	gr := newGit(t)
	g := startGate(t, tempDir(t))
	upBare, _ := upstream(t, gr)
	if _, _, err := g.api.EnsureRepo(g.ctx(), gateapi.EnsureRepoRequest{Name: "mir", Upstream: upBare}); err != nil {
		t.Fatal(err)
	}
	c := taskClone(t, g, gr, "mir", "t1")
	reviewed := gr.commit(c, "r", "r\n", "what the reviewer saw")
	gr.run(c, "push", "-q", "origin", "HEAD:agent/t1")
	sneaked := gr.commit(c, "s", "s\n", "pushed after the review")
	gr.run(c, "push", "-q", "origin", "HEAD:agent/t1")

	_, err := g.api.Promote(g.ctx(), "mir", gateapi.PromoteRequest{Branch: "agent/t1", Expect: reviewed})
	wantErr(t, "stale promote", err, unixhttp.ErrConflict, "branch moved since it was reviewed: agent/t1 is now at "+sneaked+", not at "+reviewed+" as reviewed")
	if out, _ := gr.try("", "--git-dir", upBare, "rev-parse", "-q", "--verify", "refs/heads/agent/t1"); out != "" {
		t.Fatalf("a refused promote reached the upstream: %s", out)
	}
	_, err = g.api.Promote(g.ctx(), "mir", gateapi.PromoteRequest{Branch: "agent/t1", Expect: "xyz"})
	wantErr(t, "bad expect", err, unixhttp.ErrBadRequest, `expected commit "xyz": give the commit the review showed, 7 to 40 hex digits`)
	pr, err := g.api.Promote(g.ctx(), "mir", gateapi.PromoteRequest{Branch: "agent/t1", Expect: sneaked[:10]})
	if err != nil || pr.Commit != sneaked {
		t.Fatalf("promote of the reviewed head: %+v %v", pr, err)
	}
	if got := gr.run("", "--git-dir", upBare, "rev-parse", "agent/t1"); got != sneaked {
		t.Fatalf("upstream agent/t1 %s, want %s", got, sneaked)
	}
}

// TestHostileSyncedBranchIsTheUsers: an owner record left behind for a
// branch name (a gate that died between a deletion and its record) does
// not hand a task the branch an upstream sync later creates there.
func TestHostileSyncedBranchIsTheUsers(t *testing.T) {
	gr := newGit(t)
	g := startGate(t, tempDir(t))
	upBare, upWork := upstream(t, gr)
	if _, _, err := g.api.EnsureRepo(g.ctx(), gateapi.EnsureRepoRequest{Name: "mir", Upstream: upBare}); err != nil {
		t.Fatal(err)
	}
	stale := `{"version": 1, "branches": {"refs/heads/release": "t1"}}` + "\n"
	if err := os.WriteFile(filepath.Join(g.srvDir("mir"), "terok-owners.json"), []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	gr.run(upWork, "push", "-q", "origin", "main:release")
	if res, err := g.api.Sync(g.ctx(), "mir"); err != nil || len(res.Updated) != 1 || res.Updated[0].Branch != "release" {
		t.Fatalf("sync: %+v %v", res, err)
	}
	c := taskClone(t, g, gr, "mir", "t1")
	gr.commit(c, "x", "x\n", "task work")
	refused(t, gr, c, "cannot update release: the branch is the user's", "origin", "HEAD:release")
}
