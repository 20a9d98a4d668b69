package repos

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/atomicfile"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/names"
)

// MetaFile is the settings file inside each bare repository.
const MetaFile = "terok-gate.json"

// UpstreamRemote is the remote name of the upstream in each repository.
const UpstreamRemote = "upstream"

const trackingPrefix = "refs/remotes/" + UpstreamRemote + "/"

// Manager owns the repositories under one root.
type Manager struct {
	root   string
	sshDir string
	log    zerolog.Logger

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// New returns a manager for root (created when missing). sshDir holds
// private keys and known_hosts for ssh upstreams.
func New(root, sshDir string, log zerolog.Logger) (*Manager, error) {
	for _, d := range []string{filepath.Join(root, "repos"), filepath.Join(root, "tmp")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	// Leftovers of a crash while creating or deleting.
	if ents, err := os.ReadDir(filepath.Join(root, "tmp")); err == nil {
		for _, e := range ents {
			_ = os.RemoveAll(filepath.Join(root, "tmp", e.Name()))
		}
	}
	return &Manager{root: root, sshDir: sshDir, log: log, locks: map[string]*sync.Mutex{}}, nil
}

// Dir returns the directory of repository name (which must be valid).
func (m *Manager) Dir(name string) string {
	return filepath.Join(m.root, "repos", name+".git")
}

// Exists reports whether repository name exists.
func (m *Manager) Exists(name string) bool {
	fi, err := os.Stat(filepath.Join(m.Dir(name), MetaFile))
	return err == nil && fi.Mode().IsRegular()
}

func (m *Manager) lock(name string) func() {
	m.mu.Lock()
	l, ok := m.locks[name]
	if !ok {
		l = &sync.Mutex{}
		m.locks[name] = l
	}
	m.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Meta reads the settings of repository name.
func (m *Manager) Meta(name string) (gateapi.Repo, error) {
	if err := names.Check("project", name); err != nil {
		return gateapi.Repo{}, err
	}
	return readMeta(m.Dir(name))
}

func readMeta(dir string) (gateapi.Repo, error) {
	b, err := os.ReadFile(filepath.Join(dir, MetaFile))
	if errors.Is(err, os.ErrNotExist) {
		return gateapi.Repo{}, fmt.Errorf("%w: %s", ErrNotFound, strings.TrimSuffix(filepath.Base(dir), ".git"))
	}
	if err != nil {
		return gateapi.Repo{}, fmt.Errorf("read settings: %w", err)
	}
	var r gateapi.Repo
	if err := json.Unmarshal(b, &r); err != nil {
		return gateapi.Repo{}, fmt.Errorf("settings of %s are corrupt: %w", dir, err)
	}
	return r, nil
}

func writeMeta(dir string, r gateapi.Repo) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode settings: %w", err)
	}
	return atomicfile.Write(filepath.Join(dir, MetaFile), append(b, '\n'), 0o640)
}

// List returns every repository's settings, sorted by name.
func (m *Manager) List() ([]gateapi.Repo, error) {
	ents, err := os.ReadDir(filepath.Join(m.root, "repos"))
	if err != nil {
		return nil, fmt.Errorf("list repositories: %w", err)
	}
	out := []gateapi.Repo{}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".git")
		if !ok || !e.IsDir() || names.Check("project", name) != nil {
			continue
		}
		r, err := readMeta(m.Dir(name))
		if err != nil {
			m.log.Warn().Err(err).Str("repo", name).Msg("skip repository")
			continue
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func validate(req *gateapi.EnsureRepoRequest) error {
	if err := names.Check("project", req.Name); err != nil {
		return err
	}
	switch req.Policy {
	case "":
	case gateapi.PolicyGatekeeping, gateapi.PolicyOnline:
	default:
		return fmt.Errorf("%w: policy %q: use %q or %q", ErrInvalid, req.Policy, gateapi.PolicyGatekeeping, gateapi.PolicyOnline)
	}
	if req.Policy == gateapi.PolicyOnline && req.Upstream == "" {
		return fmt.Errorf("%w: policy online needs an upstream to forward to", ErrInvalid)
	}
	if req.DefaultBranch != "" {
		if err := names.CheckBranch(req.DefaultBranch); err != nil {
			return err
		}
	}
	if req.SSHKey != "" {
		if err := names.Check("ssh key", req.SSHKey); err != nil {
			return err
		}
	}
	if req.Upstream != "" {
		if strings.HasPrefix(req.Upstream, "-") || strings.ContainsAny(req.Upstream, "\x00\n\r") {
			return fmt.Errorf("%w: upstream %q is not a URL or path", ErrInvalid, req.Upstream)
		}
		if _, err := transport.NewEndpoint(req.Upstream); err != nil {
			return fmt.Errorf("%w: upstream %q: %v", ErrInvalid, req.Upstream, err)
		}
	}
	return nil
}

// Ensure creates the repository described by req, or returns the existing
// one after applying a changed policy or polling. An existing repository
// with another upstream yields ErrConflict. created tells which happened.
func (m *Manager) Ensure(ctx context.Context, req gateapi.EnsureRepoRequest) (gateapi.Repo, bool, error) {
	if err := validate(&req); err != nil {
		return gateapi.Repo{}, false, err
	}
	unlock := m.lock(req.Name)
	defer unlock()
	dir := m.Dir(req.Name)
	if cur, err := readMeta(dir); err == nil {
		if cur.Upstream != req.Upstream {
			return cur, false, fmt.Errorf("%w: %s has upstream %q, asked for %q; delete it first to change the upstream",
				ErrConflict, req.Name, Redact(cur.Upstream), Redact(req.Upstream))
		}
		changed := false
		if req.Policy != "" && req.Policy != cur.Policy {
			cur.Policy, changed = req.Policy, true
		}
		if req.PollSeconds != 0 && req.PollSeconds != cur.PollSeconds {
			cur.PollSeconds, changed = req.PollSeconds, true
		}
		if req.SSHKey != "" && req.SSHKey != cur.SSHKey {
			cur.SSHKey, changed = req.SSHKey, true
		}
		if changed {
			if err := writeMeta(dir, cur); err != nil {
				return cur, false, err
			}
		}
		return cur, false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return gateapi.Repo{}, false, err
	}

	meta := gateapi.Repo{Name: req.Name, Upstream: req.Upstream, Policy: req.Policy, PollSeconds: req.PollSeconds,
		SSHKey: req.SSHKey, Created: time.Now().UTC().Truncate(time.Second)}
	if meta.Policy == "" {
		meta.Policy = gateapi.PolicyGatekeeping
	}
	tmp, err := os.MkdirTemp(filepath.Join(m.root, "tmp"), req.Name+"-")
	if err != nil {
		return gateapi.Repo{}, false, fmt.Errorf("create work dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	if req.Upstream == "" {
		meta.DefaultBranch = req.DefaultBranch
		if meta.DefaultBranch == "" {
			meta.DefaultBranch = "main"
		}
		if _, err := git.PlainInitWithOptions(tmp, &git.PlainInitOptions{Bare: true,
			InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(meta.DefaultBranch)}}); err != nil {
			return gateapi.Repo{}, false, fmt.Errorf("init repository: %w", err)
		}
	} else {
		if err := m.initMirror(ctx, tmp, &meta, req.DefaultBranch); err != nil {
			return gateapi.Repo{}, false, err
		}
	}
	if err := writeMeta(tmp, meta); err != nil {
		return gateapi.Repo{}, false, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return gateapi.Repo{}, false, fmt.Errorf("move repository into place: %w", err)
	}
	m.log.Info().Str("repo", req.Name).Str("upstream", Redact(req.Upstream)).Str("policy", meta.Policy).Msg("repository created")
	return meta, true, nil
}

func (m *Manager) initMirror(ctx context.Context, dir string, meta *gateapi.Repo, wantDefault string) error {
	r, err := git.PlainInit(dir, true)
	if err != nil {
		return fmt.Errorf("init repository: %w", err)
	}
	if _, err := r.CreateRemote(&gitconfig.RemoteConfig{Name: UpstreamRemote, URLs: []string{meta.Upstream},
		Fetch: []gitconfig.RefSpec{"+refs/heads/*:" + trackingPrefix + "*"}}); err != nil {
		return fmt.Errorf("add upstream: %w", err)
	}
	auth, err := m.auth(*meta)
	if err != nil {
		return err
	}
	rem, _ := r.Remote(UpstreamRemote)
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: auth})
	if err != nil && !errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return fmt.Errorf("%w: list %s: %v", ErrUpstream, Redact(meta.Upstream), err)
	}
	def := wantDefault
	if def == "" {
		def = upstreamDefault(refs)
	}
	meta.DefaultBranch = def
	if err := r.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.NewBranchReferenceName(def))); err != nil {
		return fmt.Errorf("set HEAD: %w", err)
	}
	if len(refs) == 0 {
		return nil
	}
	if _, err := m.fetch(ctx, dir, *meta); err != nil {
		return err
	}
	_, _ = m.fastForward(dir)
	m.writeBitmap(ctx, dir)
	return nil
}

// writeBitmap repacks a new mirror into one pack with a reachability
// bitmap, as `git gc` would in a bare repository. go-git's fetch writes
// none, and without one git upload-pack walks the whole history to count
// the objects of every full clone: on a 100 MB repository 0.70 s instead of
// 0.36 s per clone, against 0.8 s once for the repack (it reuses the
// deltas). The mirror is still in its work directory, so nothing serves it
// meanwhile. A failure costs only that speed: it is logged, not returned.
func (m *Manager) writeBitmap(ctx context.Context, dir string) {
	start := time.Now()
	cmd := exec.CommandContext(ctx, "git", "--git-dir", dir, "repack", "-a", "-d", "-q", "--write-bitmap-index")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		m.log.Warn().Err(err).Str("stderr", strings.TrimSpace(stderr.String())).Msg("repack new mirror with a bitmap; clones of it stay correct but count objects slower")
		return
	}
	m.log.Debug().Dur("duration", time.Since(start)).Msg("repacked new mirror with a reachability bitmap")
}

func upstreamDefault(refs []*plumbing.Reference) string {
	have := map[string]bool{}
	for _, ref := range refs {
		if ref.Name() == plumbing.HEAD && ref.Type() == plumbing.SymbolicReference && ref.Target().IsBranch() {
			return ref.Target().Short()
		}
		if ref.Name().IsBranch() {
			have[ref.Name().Short()] = true
		}
	}
	for _, b := range []string{"main", "master"} {
		if have[b] {
			return b
		}
	}
	var all []string
	for b := range have {
		all = append(all, b)
	}
	sort.Strings(all)
	if len(all) > 0 {
		return all[0]
	}
	return "main"
}

func (m *Manager) auth(meta gateapi.Repo) (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(meta.Upstream)
	if err != nil {
		return nil, fmt.Errorf("%w: upstream %q: %v", ErrInvalid, meta.Upstream, err)
	}
	if ep.Protocol != "ssh" {
		return nil, nil
	}
	keys := []string{"id_ed25519", "id_rsa"}
	if meta.SSHKey != "" {
		keys = []string{meta.SSHKey}
	}
	var keyPath string
	for _, k := range keys {
		p := filepath.Join(m.sshDir, k)
		if _, err := os.Stat(p); err == nil {
			keyPath = p
			break
		}
	}
	if keyPath == "" {
		return nil, fmt.Errorf("%w: ssh upstream %s needs a private key %s in %s", ErrUpstream, meta.Upstream, strings.Join(keys, " or "), m.sshDir)
	}
	user := ep.User
	if user == "" {
		user = "git"
	}
	pk, err := gitssh.NewPublicKeysFromFile(user, keyPath, "")
	if err != nil {
		return nil, fmt.Errorf("%w: load ssh key %s: %v", ErrUpstream, keyPath, err)
	}
	kh := filepath.Join(m.sshDir, "known_hosts")
	cb, err := gitssh.NewKnownHostsCallback(kh)
	if err != nil {
		return nil, fmt.Errorf("%w: ssh upstream needs the host key in %s: %v", ErrUpstream, kh, err)
	}
	pk.HostKeyCallback = cb
	return pk, nil
}

// fetch brings the upstream's branches into refs/remotes/upstream/* and
// its tags into refs/tags/*.
func (m *Manager) fetch(ctx context.Context, dir string, meta gateapi.Repo) (bool, error) {
	r, err := git.PlainOpen(dir)
	if err != nil {
		return false, fmt.Errorf("open repository: %w", err)
	}
	auth, err := m.auth(meta)
	if err != nil {
		return false, err
	}
	err = r.FetchContext(ctx, &git.FetchOptions{RemoteName: UpstreamRemote, Auth: auth, Tags: git.AllTags,
		RefSpecs: []gitconfig.RefSpec{"+refs/heads/*:" + trackingPrefix + "*"}, Prune: true})
	switch {
	case errors.Is(err, git.NoErrAlreadyUpToDate):
		return false, nil
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("%w: fetch %s: %v", ErrUpstream, Redact(meta.Upstream), err)
	}
	return true, nil
}

// fastForward moves each refs/heads/B to refs/remotes/upstream/B when B is
// missing or behind; a diverged branch is left alone and reported.
func (m *Manager) fastForward(dir string) ([]gateapi.BranchUpdate, []string) {
	r, err := git.PlainOpen(dir)
	if err != nil {
		return nil, []string{fmt.Sprintf("open repository: %v", err)}
	}
	iter, err := r.References()
	if err != nil {
		return nil, []string{fmt.Sprintf("list refs: %v", err)}
	}
	var tracking []*plumbing.Reference
	_ = iter.ForEach(func(ref *plumbing.Reference) error {
		if strings.HasPrefix(ref.Name().String(), trackingPrefix) && ref.Type() == plumbing.HashReference {
			tracking = append(tracking, ref)
		}
		return nil
	})
	sort.Slice(tracking, func(i, j int) bool { return tracking[i].Name() < tracking[j].Name() })
	updates := []gateapi.BranchUpdate{}
	errs := []string{}
	for _, tr := range tracking {
		branch := strings.TrimPrefix(tr.Name().String(), trackingPrefix)
		if branch == "HEAD" {
			continue
		}
		local, err := r.Reference(plumbing.NewBranchReferenceName(branch), false)
		var old plumbing.Hash
		if err == nil {
			old = local.Hash()
			if old == tr.Hash() {
				continue
			}
			oc, err1 := r.CommitObject(old)
			nc, err2 := r.CommitObject(tr.Hash())
			if err1 != nil || err2 != nil {
				errs = append(errs, fmt.Sprintf("branch %s: read commits: %v %v", branch, err1, err2))
				continue
			}
			if ok, _ := oc.IsAncestor(nc); !ok {
				if ahead, _ := nc.IsAncestor(oc); !ahead {
					errs = append(errs, fmt.Sprintf("branch %s diverged from upstream (gate %s, upstream %s); not updated",
						branch, short(old), short(tr.Hash())))
				}
				continue
			}
		}
		if err := updateRef(dir, "refs/heads/"+branch, tr.Hash(), old); err != nil {
			errs = append(errs, fmt.Sprintf("branch %s: %v", branch, err))
			continue
		}
		u := gateapi.BranchUpdate{Branch: branch, New: tr.Hash().String()}
		if !old.IsZero() {
			u.Old = old.String()
		}
		updates = append(updates, u)
	}
	return updates, errs
}

// updateRef moves ref from old (zero: must not exist) to new with the git
// CLI, so the update takes git's own ref lock like concurrent pushes do.
func updateRef(dir, ref string, new, old plumbing.Hash) error {
	oldArg := old.String()
	if old.IsZero() {
		oldArg = strings.Repeat("0", 40)
	}
	cmd := exec.Command("git", "--git-dir", dir, "update-ref", "-m", "terok-gate sync", ref, new.String(), oldArg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("update %s: %v: %s", ref, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

func short(h plumbing.Hash) string { return h.String()[:12] }

// Sync fetches the upstream and fast-forwards the gate's branches. Errors
// of the upstream go into the result (and the repository's settings) with
// a nil error; the gate keeps serving what it has.
func (m *Manager) Sync(ctx context.Context, name string) (gateapi.SyncResult, error) {
	if err := names.Check("project", name); err != nil {
		return gateapi.SyncResult{}, err
	}
	unlock := m.lock(name)
	defer unlock()
	dir := m.Dir(name)
	meta, err := readMeta(dir)
	if err != nil {
		return gateapi.SyncResult{}, err
	}
	if meta.Upstream == "" {
		return gateapi.SyncResult{}, fmt.Errorf("%w: %s is not a mirror; nothing to sync", ErrNoUpstream, name)
	}
	res := gateapi.SyncResult{Repo: name, At: time.Now().UTC().Truncate(time.Millisecond), Updated: []gateapi.BranchUpdate{}, Errors: []string{}}
	if _, err := m.fetch(ctx, dir, meta); err != nil {
		res.Errors = append(res.Errors, err.Error())
	} else {
		res.Updated, res.Errors = m.fastForward(dir)
	}
	at := res.At
	meta.LastSync = &at
	meta.LastSyncError = strings.Join(res.Errors, "; ")
	if err := writeMeta(dir, meta); err != nil {
		return res, err
	}
	ev := m.log.Info()
	if len(res.Errors) > 0 {
		ev = m.log.Warn().Strs("errors", res.Errors)
	}
	ev.Str("repo", name).Int("updated", len(res.Updated)).Msg("synced from upstream")
	return res, nil
}

// Promote pushes a gate branch to the upstream.
func (m *Manager) Promote(ctx context.Context, name string, req gateapi.PromoteRequest) (gateapi.PromoteResult, error) {
	if err := names.Check("project", name); err != nil {
		return gateapi.PromoteResult{}, err
	}
	if req.Target == "" {
		req.Target = req.Branch
	}
	for _, b := range []string{req.Branch, req.Target} {
		if err := names.CheckBranch(b); err != nil {
			return gateapi.PromoteResult{}, err
		}
	}
	unlock := m.lock(name)
	defer unlock()
	dir := m.Dir(name)
	meta, err := readMeta(dir)
	if err != nil {
		return gateapi.PromoteResult{}, err
	}
	if meta.Upstream == "" {
		return gateapi.PromoteResult{}, fmt.Errorf("%w: %s has no upstream to promote to", ErrNoUpstream, name)
	}
	r, err := git.PlainOpen(dir)
	if err != nil {
		return gateapi.PromoteResult{}, fmt.Errorf("open repository: %w", err)
	}
	ref, err := r.Reference(plumbing.NewBranchReferenceName(req.Branch), true)
	if err != nil {
		return gateapi.PromoteResult{}, fmt.Errorf("%w: %s in %s", ErrNoBranch, req.Branch, name)
	}
	res := gateapi.PromoteResult{Branch: req.Branch, Target: req.Target, Commit: ref.Hash().String()}
	spec := "refs/heads/" + req.Branch + ":refs/heads/" + req.Target
	if req.Force {
		spec = "+" + spec
	}
	upToDate, err := m.push(ctx, r, meta, []gitconfig.RefSpec{gitconfig.RefSpec(spec)})
	if err != nil {
		return res, err
	}
	res.UpToDate = upToDate
	_ = r.Storer.SetReference(plumbing.NewHashReference(plumbing.ReferenceName(trackingPrefix+req.Target), ref.Hash()))
	m.log.Info().Str("repo", name).Str("branch", req.Branch).Str("target", req.Target).Str("commit", res.Commit).Msg("promoted to upstream")
	return res, nil
}

func (m *Manager) push(ctx context.Context, r *git.Repository, meta gateapi.Repo, specs []gitconfig.RefSpec) (bool, error) {
	auth, err := m.auth(meta)
	if err != nil {
		return false, err
	}
	err = r.PushContext(ctx, &git.PushOptions{RemoteName: UpstreamRemote, RefSpecs: specs, Auth: auth})
	if errors.Is(err, git.NoErrAlreadyUpToDate) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("%w: push to %s: %v", ErrUpstream, Redact(meta.Upstream), err)
	}
	return false, nil
}

// Forward pushes the given updates of a repository with the online policy
// to its upstream and records the outcome in its settings.
func (m *Manager) Forward(ctx context.Context, name string, ups []RefUpdate) (gateapi.Forward, error) {
	unlock := m.lock(name)
	defer unlock()
	dir := m.Dir(name)
	meta, err := readMeta(dir)
	if err != nil {
		return gateapi.Forward{}, err
	}
	fw := gateapi.Forward{At: time.Now().UTC().Truncate(time.Millisecond), Refs: []string{}}
	var specs []gitconfig.RefSpec
	for _, u := range ups {
		if !strings.HasPrefix(u.Ref, "refs/heads/") && !strings.HasPrefix(u.Ref, "refs/tags/") {
			continue
		}
		fw.Refs = append(fw.Refs, u.Ref)
		if u.New.IsZero() {
			specs = append(specs, gitconfig.RefSpec(":"+u.Ref))
		} else {
			specs = append(specs, gitconfig.RefSpec(u.Ref+":"+u.Ref))
		}
	}
	if len(specs) == 0 {
		return fw, nil
	}
	r, err := git.PlainOpen(dir)
	if err == nil {
		_, err = m.push(ctx, r, meta, specs)
	}
	if err != nil {
		fw.Error = err.Error()
	} else {
		for _, u := range ups {
			if b, ok := strings.CutPrefix(u.Ref, "refs/heads/"); ok {
				tr := plumbing.ReferenceName(trackingPrefix + b)
				if u.New.IsZero() {
					_ = r.Storer.RemoveReference(tr)
				} else {
					_ = r.Storer.SetReference(plumbing.NewHashReference(tr, u.New))
				}
			}
		}
	}
	meta.LastForward = &fw
	if werr := writeMeta(dir, meta); werr != nil && err == nil {
		err = werr
	}
	return fw, err
}

// Delete removes repository name: it is first moved out of the served
// tree, then removed.
func (m *Manager) Delete(name string) error {
	if err := names.Check("project", name); err != nil {
		return err
	}
	unlock := m.lock(name)
	defer unlock()
	dir := m.Dir(name)
	if _, err := readMeta(dir); err != nil {
		return err
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	trash := filepath.Join(m.root, "tmp", "deleted-"+name+"-"+hex.EncodeToString(b[:]))
	if err := os.Rename(dir, trash); err != nil {
		return fmt.Errorf("move repository away: %w", err)
	}
	if err := os.RemoveAll(trash); err != nil {
		m.log.Warn().Err(err).Str("path", trash).Msg("remove deleted repository")
	}
	m.log.Info().Str("repo", name).Msg("repository deleted")
	return nil
}

// Show returns a repository with its branches and, for mirrors, how far
// each branch is ahead of and behind the upstream's default branch.
func (m *Manager) Show(name string) (gateapi.RepoDetail, error) {
	meta, err := m.Meta(name)
	if err != nil {
		return gateapi.RepoDetail{}, err
	}
	d := gateapi.RepoDetail{Repo: meta, Branches: []gateapi.Branch{}}
	r, err := git.PlainOpen(m.Dir(name))
	if err != nil {
		return d, fmt.Errorf("open repository: %w", err)
	}
	var upSet map[plumbing.Hash]struct{}
	if meta.Upstream != "" {
		if up, err := r.Reference(plumbing.ReferenceName(trackingPrefix+meta.DefaultBranch), false); err == nil {
			d.UpstreamHead = up.Hash().String()
			upSet, _ = ancestors(r, up.Hash(), nil)
		}
	}
	iter, err := r.Branches()
	if err != nil {
		return d, fmt.Errorf("list branches: %w", err)
	}
	_ = iter.ForEach(func(ref *plumbing.Reference) error {
		b := gateapi.Branch{Name: ref.Name().Short(), Head: ref.Hash().String()}
		if c, err := r.CommitObject(ref.Hash()); err == nil {
			b.Subject, _, _ = strings.Cut(c.Message, "\n")
			b.Author = c.Author.Name
			b.When = c.Author.When.UTC()
		}
		if upSet != nil {
			if mine, err := ancestors(r, ref.Hash(), nil); err == nil {
				ahead, behind := 0, 0
				for h := range mine {
					if _, ok := upSet[h]; !ok {
						ahead++
					}
				}
				for h := range upSet {
					if _, ok := mine[h]; !ok {
						behind++
					}
				}
				b.Ahead, b.Behind = &ahead, &behind
			}
		}
		d.Branches = append(d.Branches, b)
		return nil
	})
	sort.Slice(d.Branches, func(i, j int) bool { return d.Branches[i].Name < d.Branches[j].Name })
	return d, nil
}

// ancestors returns every commit reachable from h (h included).
func ancestors(r *git.Repository, h plumbing.Hash, _ map[plumbing.Hash]struct{}) (map[plumbing.Hash]struct{}, error) {
	seen := map[plumbing.Hash]struct{}{}
	stack := []plumbing.Hash{h}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, ok := seen[cur]; ok {
			continue
		}
		seen[cur] = struct{}{}
		c, err := r.CommitObject(cur)
		if err != nil {
			return seen, err
		}
		stack = append(stack, c.ParentHashes...)
	}
	return seen, nil
}

// DefaultBranch returns the default branch of a repository ("" when its
// settings cannot be read).
func (m *Manager) DefaultBranch(name string) string {
	meta, err := m.Meta(name)
	if err != nil {
		return ""
	}
	return meta.DefaultBranch
}

// Redact hides credentials in an http(s) upstream URL (the user part may
// itself be a token) for answers and logs.
func Redact(upstream string) string {
	u, err := url.Parse(upstream)
	if err != nil || u.User == nil || (u.Scheme != "http" && u.Scheme != "https") {
		return upstream
	}
	u.User = url.User("redacted")
	return u.String()
}

// Redacted returns r with its upstream redacted.
func Redacted(r gateapi.Repo) gateapi.Repo {
	r.Upstream = Redact(r.Upstream)
	return r
}

// Log returns up to limit commits reachable from branch, newest first.
func (m *Manager) Log(name, branch string, limit int) ([]gateapi.Commit, error) {
	if err := names.CheckBranch(branch); err != nil {
		return nil, err
	}
	if _, err := m.Meta(name); err != nil {
		return nil, err
	}
	r, err := git.PlainOpen(m.Dir(name))
	if err != nil {
		return nil, fmt.Errorf("open repository: %w", err)
	}
	ref, err := r.Reference(plumbing.NewBranchReferenceName(branch), true)
	if err != nil {
		return nil, fmt.Errorf("%w: %s in %s", ErrNoBranch, branch, name)
	}
	iter, err := r.Log(&git.LogOptions{From: ref.Hash(), Order: git.LogOrderCommitterTime})
	if err != nil {
		return nil, fmt.Errorf("log %s: %w", branch, err)
	}
	defer iter.Close()
	out := []gateapi.Commit{}
	for len(out) < limit {
		c, err := iter.Next()
		if err != nil {
			break
		}
		subject, _, _ := strings.Cut(c.Message, "\n")
		e := gateapi.Commit{Hash: c.Hash.String(), Subject: subject, Author: c.Author.Name, Email: c.Author.Email,
			When: c.Author.When.UTC(), Parents: []string{}}
		for _, p := range c.ParentHashes {
			e.Parents = append(e.Parents, p.String())
		}
		out = append(out, e)
	}
	return out, nil
}
