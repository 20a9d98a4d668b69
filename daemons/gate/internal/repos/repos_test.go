package repos

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/names"
)

// TestSettingsFileFormat pins the on-disk record: its JSON names are the
// file format and must not follow changes of the wire type.
func TestSettingsFileFormat(t *testing.T) {
	m := newManager(t)
	if _, created, err := m.Ensure(ctx(t), gateapi.EnsureRepoRequest{Name: "p"}); err != nil || !created {
		t.Fatalf("ensure: %v %v", created, err)
	}
	b, err := os.ReadFile(filepath.Join(m.Dir("p"), MetaFile))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if !reflect.DeepEqual(keys, []string{"created", "default_branch", "name", "policy"}) {
		t.Fatalf("settings keys %v", keys)
	}
	// A file as an earlier gate wrote it, every field set, still reads.
	old := `{"name": "o", "upstream": "https://user:secret@example.org/o.git", "default_branch": "dev",
 "policy": "online", "poll_seconds": 60, "ssh_key": "id_rsa", "created": "2026-11-29T22:00:00Z",
 "last_sync": "2026-11-30T01:02:03Z", "last_sync_error": "boom",
 "last_forward": {"at": "2026-11-30T01:02:04Z", "refs": ["refs/heads/x"], "error": "refused"}}`
	dir := m.Dir("o")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, MetaFile), []byte(old), 0o640); err != nil {
		t.Fatal(err)
	}
	s, err := readSettings(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Upstream != "https://user:secret@example.org/o.git" {
		t.Fatalf("the record keeps the credentials the gate needs: %q", s.Upstream)
	}
	sync := time.Date(2026, 11, 30, 1, 2, 3, 0, time.UTC)
	want := gateapi.Repo{Name: "o", Upstream: "https://redacted@example.org/o.git", DefaultBranch: "dev", Policy: "online",
		PollSeconds: 60, SSHKey: "id_rsa", Created: time.Date(2026, 11, 29, 22, 0, 0, 0, time.UTC), LastSync: &sync,
		LastSyncError: "boom", LastForward: &gateapi.Forward{At: sync.Add(time.Second), Refs: []string{"refs/heads/x"}, Error: "refused"}}
	got, err := m.Meta("o")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("wire form:\n got  %+v\n want %+v (%v)", got, want, err)
	}
	// The wire form shares nothing with the record.
	got.LastForward.Refs[0] = "changed"
	if again, _ := m.Meta("o"); again.LastForward.Refs[0] != "refs/heads/x" {
		t.Fatal("wire form aliases the record")
	}
	// A corrupt record is reported with its path.
	if err := os.WriteFile(filepath.Join(dir, MetaFile), []byte("{"), 0o640); err != nil {
		t.Fatal(err)
	}
	_, err = m.Meta("o")
	if err == nil || err.Error() != "settings of "+dir+" are corrupt: unexpected end of JSON input" {
		t.Fatalf("corrupt settings: %v", err)
	}
}

func TestEnsureValidatesAndIsIdempotent(t *testing.T) {
	m := newManager(t)
	c := ctx(t)
	r, created, err := m.Ensure(c, gateapi.EnsureRepoRequest{Name: "p", DefaultBranch: "dev"})
	if err != nil || !created || r.DefaultBranch != "dev" || r.Policy != gateapi.PolicyGatekeeping || r.Created.IsZero() {
		t.Fatalf("create: %+v %v %v", r, created, err)
	}
	if head := run(t, "", "--git-dir", m.Dir("p"), "symbolic-ref", "HEAD"); head != "refs/heads/dev" {
		t.Fatalf("HEAD of a new repository: %s", head)
	}
	r2, created, err := m.Ensure(c, gateapi.EnsureRepoRequest{Name: "p", PollSeconds: -1})
	if err != nil || created || r2.PollSeconds != -1 || !r2.Created.Equal(r.Created) {
		t.Fatalf("ensure again: %+v %v %v", r2, created, err)
	}
	if s, _ := readSettings(m.Dir("p")); s.PollSeconds != -1 {
		t.Fatal("changed polling not kept on disk")
	}
	_, _, err = m.Ensure(c, gateapi.EnsureRepoRequest{Name: "p", Upstream: "/elsewhere"})
	wantErr(t, "other upstream", err, ErrConflict, `p has upstream "", asked for "/elsewhere"; delete it first to change the upstream`)
	for _, tc := range []struct {
		req gateapi.EnsureRepoRequest
		is  error
		msg string
	}{
		{gateapi.EnsureRepoRequest{Name: "q", Policy: "yolo"}, ErrInvalid, `policy "yolo": use "gatekeeping" or "online"`},
		{gateapi.EnsureRepoRequest{Name: "q", Policy: "online"}, ErrInvalid, "policy online needs an upstream to forward to"},
		{gateapi.EnsureRepoRequest{Name: "q", Upstream: "-oProxyCommand=x"}, ErrInvalid, `upstream "-oProxyCommand=x" is not a URL or path`},
		{gateapi.EnsureRepoRequest{Name: "q", Upstream: "/x\n"}, ErrInvalid, "is not a URL or path"},
		{gateapi.EnsureRepoRequest{Name: "q", SSHKey: "../id"}, names.ErrBadName, `ssh key "../id" may only hold`},
		{gateapi.EnsureRepoRequest{Name: "q", DefaultBranch: "-x"}, names.ErrBadName, `branch "-x" is not a valid short branch name`},
		{gateapi.EnsureRepoRequest{Name: "q.git"}, names.ErrBadName, `project "q.git" must not end in ".git"`},
		{gateapi.EnsureRepoRequest{Name: "../q"}, names.ErrBadName, `project "../q" may only hold`},
	} {
		_, _, err := m.Ensure(c, tc.req)
		wantErr(t, tc.req.Name+" "+tc.req.Policy+tc.req.Upstream+tc.req.SSHKey+tc.req.DefaultBranch, err, tc.is, tc.msg)
	}
	if m.Exists("q") {
		t.Fatal("a refused request left a repository")
	}
	_, err = m.Meta("nope")
	wantErr(t, "meta of a missing repository", err, ErrNotFound, "no such repository: nope")
}

func TestListAndDelete(t *testing.T) {
	m := newManager(t)
	for _, n := range []string{"b", "a"} {
		if _, _, err := m.Ensure(ctx(t), gateapi.EnsureRepoRequest{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	// A directory without readable settings, and one with a name the gate
	// refuses, are not listed.
	if err := os.MkdirAll(m.Dir("broken"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(m.root, "repos", "x.git.git"), 0o750); err != nil {
		t.Fatal(err)
	}
	list, err := m.List()
	if err != nil || len(list) != 2 || list[0].Name != "a" || list[1].Name != "b" {
		t.Fatalf("list: %+v %v", list, err)
	}
	if err := m.Delete("a"); err != nil {
		t.Fatal(err)
	}
	if m.Exists("a") {
		t.Fatal("deleted repository still exists")
	}
	wantErr(t, "delete again", m.Delete("a"), ErrNotFound, "no such repository: a")
	if ents, _ := os.ReadDir(filepath.Join(m.root, "tmp")); len(ents) != 0 {
		t.Fatalf("delete left %v in tmp", ents)
	}
	if m.DefaultBranch("a") != "" || m.DefaultBranch("b") != "main" {
		t.Fatal("DefaultBranch")
	}
}

// TestMirror mirrors a local upstream, syncs it, keeps a diverged gate
// branch, and shows ahead/behind and a log.
func TestMirror(t *testing.T) {
	m := newManager(t)
	c := ctx(t)
	up := filepath.Join(t.TempDir(), "up.git")
	run(t, "", "init", "-q", "--bare", "-b", "trunk", up)
	w := workTree(t, up)
	run(t, w, "checkout", "-q", "-b", "trunk")
	commit(t, w, "a", "a\n", "one")
	two := commit(t, w, "b", "b\n", "two")
	run(t, w, "push", "-q", "origin", "trunk")

	r, created, err := m.Ensure(c, gateapi.EnsureRepoRequest{Name: "mir", Upstream: up})
	if err != nil || !created || r.DefaultBranch != "trunk" || r.Upstream != up {
		t.Fatalf("mirror: %+v %v %v", r, created, err)
	}
	if got := run(t, "", "--git-dir", m.Dir("mir"), "rev-parse", "refs/heads/trunk"); got != two {
		t.Fatalf("mirrored trunk %s want %s", got, two)
	}
	if bm, _ := filepath.Glob(filepath.Join(m.Dir("mir"), "objects", "pack", "*.bitmap")); len(bm) != 1 {
		t.Fatalf("bitmaps %v", bm)
	}

	// The gate's own work on a branch, then the upstream moves on.
	gw := workTree(t, m.Dir("mir"))
	run(t, gw, "checkout", "-q", "-b", "feature")
	commit(t, gw, "f", "f\n", "feature")
	run(t, gw, "push", "-q", "origin", "feature")
	three := commit(t, w, "c", "c\n", "three")
	run(t, w, "push", "-q", "origin", "trunk")
	res, err := m.Sync(c, "mir")
	if err != nil || len(res.Errors) != 0 || !reflect.DeepEqual(res.Updated, []gateapi.BranchUpdate{{Branch: "trunk", Old: two, New: three}}) {
		t.Fatalf("sync: %+v %v", res, err)
	}
	d, err := m.Show("mir")
	if err != nil {
		t.Fatal(err)
	}
	if d.UpstreamHead != three || len(d.Branches) != 2 || d.Branches[0].Name != "feature" ||
		*d.Branches[0].Ahead != 1 || *d.Branches[0].Behind != 1 || *d.Branches[1].Ahead != 0 || *d.Branches[1].Behind != 0 {
		t.Fatalf("show: %+v", d)
	}
	log, err := m.Log("mir", "trunk", 2)
	if err != nil || len(log) != 2 || log[0].Hash != three || log[1].Subject != "two" || log[0].Parents[0] != two {
		t.Fatalf("log: %+v %v", log, err)
	}
	_, err = m.Log("mir", "nope", 2)
	wantErr(t, "log of a missing branch", err, ErrNoBranch, "nope in mir")

	// A branch rewritten in the gate is left alone by a sync.
	run(t, gw, "checkout", "-q", "trunk")
	run(t, gw, "pull", "-q", "--ff-only")
	local := commit(t, gw, "g", "g\n", "gate-only")
	run(t, gw, "push", "-q", "origin", "trunk")
	commit(t, w, "d", "d\n", "four")
	run(t, w, "push", "-q", "origin", "trunk")
	res, err = m.Sync(c, "mir")
	if err != nil || len(res.Updated) != 0 || len(res.Errors) != 1 {
		t.Fatalf("diverged sync: %+v %v", res, err)
	}
	if !strings.HasPrefix(res.Errors[0], "branch trunk diverged from upstream (gate "+local[:12]+", upstream ") {
		t.Fatalf("diverged sync says %q", res.Errors[0])
	}
	if got := run(t, "", "--git-dir", m.Dir("mir"), "rev-parse", "refs/heads/trunk"); got != local {
		t.Fatal("sync overwrote the gate's work")
	}
	if s, _ := readSettings(m.Dir("mir")); s.LastSync == nil || s.LastSyncError != res.Errors[0] {
		t.Fatalf("sync outcome not recorded: %+v", s)
	}
	// A repository without upstream has nothing to sync.
	if _, _, err := m.Ensure(c, gateapi.EnsureRepoRequest{Name: "plain"}); err != nil {
		t.Fatal(err)
	}
	_, err = m.Sync(c, "plain")
	wantErr(t, "sync plain", err, ErrNoUpstream, "plain is not a mirror; nothing to sync")
	_, err = m.Promote(c, "plain", gateapi.PromoteRequest{Branch: "main"})
	wantErr(t, "promote plain", err, ErrNoUpstream, "plain has no upstream to promote to")
}

// TestCountPushed counts the commits of ref updates the way the event
// feed reports them.
func TestCountPushed(t *testing.T) {
	m := newManager(t)
	if _, _, err := m.Ensure(ctx(t), gateapi.EnsureRepoRequest{Name: "p"}); err != nil {
		t.Fatal(err)
	}
	w := workTree(t, m.Dir("p"))
	run(t, w, "checkout", "-q", "-b", "main")
	commit(t, w, "a", "a\n", "a")
	main := commit(t, w, "b", "b\n", "b")
	run(t, w, "push", "-q", "origin", "main")
	run(t, w, "checkout", "-q", "-b", "x")
	commit(t, w, "x1", "1\n", "x1")
	x2 := commit(t, w, "x2", "2\n", "x2")
	run(t, w, "checkout", "-q", "-b", "y")
	y := commit(t, w, "y", "y\n", "y")
	// One push that creates x and y (y on top of x), moves nothing else.
	run(t, w, "push", "-q", "origin", "x", "y")
	h := plumbing.NewHash
	ups := []RefUpdate{
		{Ref: "refs/heads/x", New: h(x2)},
		{Ref: "refs/heads/y", New: h(y)},
		{Ref: "refs/heads/main", Old: h(main), New: h(main)}, // no-op: not applied
		{Ref: "refs/heads/main", Old: h(main)},               // a deletion that did not happen
	}
	applied := m.Applied("p", ups)
	if len(applied) != 2 || applied[0].Ref != "refs/heads/x" || applied[1].Ref != "refs/heads/y" {
		t.Fatalf("applied: %+v", applied)
	}
	// Neither branch existed before, so each counts what no older ref had.
	if got := m.CountPushed(ctx(t), "p", applied); !reflect.DeepEqual(got, []int{2, 3}) {
		t.Fatalf("counts of a push creating x and y: %v", got)
	}
	// Moving x forward: old..new.
	run(t, w, "checkout", "-q", "x")
	x3 := commit(t, w, "x3", "3\n", "x3")
	run(t, w, "push", "-q", "origin", "x")
	if got := m.CountPushed(ctx(t), "p", []RefUpdate{{Ref: "refs/heads/x", Old: h(x2), New: h(x3)}}); got[0] != 1 {
		t.Fatalf("count of x2..x3: %v", got)
	}
	// A new branch at an existing commit brings none; a deletion none.
	run(t, w, "push", "-q", "origin", "x:z", ":y")
	got := m.CountPushed(ctx(t), "p", []RefUpdate{{Ref: "refs/heads/z", New: h(x3)}, {Ref: "refs/heads/y", Old: h(y)}})
	if !reflect.DeepEqual(got, []int{0, 0}) {
		t.Fatalf("counts of z at x3 and deleting y: %v", got)
	}
}

func TestRedactAndUpstreamDefault(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:tok@example.org/x.git": "https://redacted@example.org/x.git",
		"http://tok@example.org/x.git":       "http://redacted@example.org/x.git",
		"https://example.org/x.git":          "https://example.org/x.git",
		"ssh://git@example.org/x.git":        "ssh://git@example.org/x.git",
		"/srv/x.git":                         "/srv/x.git",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	br := func(n string) *plumbing.Reference {
		return plumbing.NewHashReference(plumbing.NewBranchReferenceName(n), plumbing.ZeroHash)
	}
	head := plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.NewBranchReferenceName("dev"))
	for _, c := range []struct {
		refs []*plumbing.Reference
		want string
	}{
		{[]*plumbing.Reference{br("main"), head, br("dev")}, "dev"},
		{[]*plumbing.Reference{br("master"), br("main")}, "main"},
		{[]*plumbing.Reference{br("zeta"), br("master")}, "master"},
		{[]*plumbing.Reference{br("zeta"), br("alpha")}, "alpha"},
		{nil, "main"},
	} {
		if got := upstreamDefault(c.refs); got != c.want {
			t.Errorf("upstreamDefault(%v) = %q, want %q", c.refs, got, c.want)
		}
	}
}
