package repos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/names"
)

// UpstreamRemote is the remote name of the upstream in each repository.
const UpstreamRemote = "upstream"

const trackingPrefix = "refs/remotes/" + UpstreamRemote + "/"

// auth returns how to reach the upstream: nothing for http(s) and paths
// (credentials ride in the URL), a private key and the known host keys
// from the gate's ssh directory for ssh.
func (m *Manager) auth(meta settings) (transport.AuthMethod, error) {
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
func (m *Manager) fetch(ctx context.Context, dir string, meta settings) (bool, error) {
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
	if err := names.CheckProject(name); err != nil {
		return gateapi.SyncResult{}, err
	}
	unlock := m.lock(name)
	defer unlock()
	dir := m.Dir(name)
	meta, err := readSettings(dir)
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
	if err := writeSettings(dir, meta); err != nil {
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
	if err := names.CheckProject(name); err != nil {
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
	if err := checkExpect(req.Expect); err != nil {
		return gateapi.PromoteResult{}, err
	}
	unlock := m.lock(name)
	defer unlock()
	dir := m.Dir(name)
	meta, err := readSettings(dir)
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
	head := ref.Hash()
	if req.Expect != "" && !strings.HasPrefix(head.String(), strings.ToLower(req.Expect)) {
		return gateapi.PromoteResult{}, fmt.Errorf("%w: %s is now at %s, not at %s as reviewed; review the new head and promote it (terok-gate repo diff %s %s)",
			ErrMoved, req.Branch, head, req.Expect, name, req.Branch)
	}
	res := gateapi.PromoteResult{Branch: req.Branch, Target: req.Target, Commit: head.String()}
	// The commit itself, not the branch: what was checked is what goes,
	// even if the branch moves while the push runs.
	spec := head.String() + ":refs/heads/" + req.Target
	if req.Force {
		spec = "+" + spec
	}
	upToDate, err := m.push(ctx, r, meta, []gitconfig.RefSpec{gitconfig.RefSpec(spec)})
	if err != nil {
		return res, err
	}
	res.UpToDate = upToDate
	_ = r.Storer.SetReference(plumbing.NewHashReference(plumbing.ReferenceName(trackingPrefix+req.Target), head))
	m.log.Info().Str("repo", name).Str("branch", req.Branch).Str("target", req.Target).Str("commit", res.Commit).Msg("promoted to upstream")
	return res, nil
}

// listUpstream returns the names of the upstream's refs.
func (m *Manager) listUpstream(ctx context.Context, r *git.Repository, meta settings) (map[string]bool, error) {
	auth, err := m.auth(meta)
	if err != nil {
		return nil, err
	}
	rem, err := r.Remote(UpstreamRemote)
	if err != nil {
		return nil, fmt.Errorf("%w: no upstream remote: %v", ErrUpstream, err)
	}
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: auth})
	if err != nil && !errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return nil, fmt.Errorf("%w: list %s: %v", ErrUpstream, Redact(meta.Upstream), err)
	}
	out := map[string]bool{}
	for _, ref := range refs {
		out[ref.Name().String()] = true
	}
	return out, nil
}

func (m *Manager) push(ctx context.Context, r *git.Repository, meta settings, specs []gitconfig.RefSpec) (bool, error) {
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

// checkExpect accepts an empty expected commit or 7 to 40 hex digits.
func checkExpect(e string) error {
	if e == "" {
		return nil
	}
	if len(e) < 7 || len(e) > 40 || strings.Trim(strings.ToLower(e), "0123456789abcdef") != "" {
		return fmt.Errorf("%w: expected commit %q: give the commit the review showed, 7 to 40 hex digits", ErrInvalid, e)
	}
	return nil
}

// Forward pushes the given updates of a repository with the online policy
// to its upstream and records the outcome in its settings. It never
// deletes a ref upstream, and it creates a ref upstream only where the
// upstream has none: a branch new in the gate does not move a branch of
// the same name that the gate has not seen.
func (m *Manager) Forward(ctx context.Context, name string, ups []RefUpdate) (gateapi.Forward, error) {
	unlock := m.lock(name)
	defer unlock()
	dir := m.Dir(name)
	meta, err := readSettings(dir)
	if err != nil {
		return gateapi.Forward{}, err
	}
	fw := gateapi.Forward{At: time.Now().UTC().Truncate(time.Millisecond), Refs: []string{}}
	r, err := git.PlainOpen(dir)
	var upRefs map[string]bool
	if err == nil && slices.ContainsFunc(ups, func(u RefUpdate) bool { return u.Old.IsZero() && !u.New.IsZero() }) {
		upRefs, err = m.listUpstream(ctx, r, meta)
	}
	var specs []gitconfig.RefSpec
	var sent []RefUpdate
	for _, u := range ups {
		switch {
		case err != nil:
		case !strings.HasPrefix(u.Ref, "refs/heads/") && !strings.HasPrefix(u.Ref, "refs/tags/"):
		case u.New.IsZero(), u.Old.IsZero() && upRefs[u.Ref]:
			fw.Kept = append(fw.Kept, u.Ref)
		default:
			fw.Refs = append(fw.Refs, u.Ref)
			specs = append(specs, gitconfig.RefSpec(u.New.String()+":"+u.Ref))
			sent = append(sent, u)
		}
	}
	if err == nil && len(specs) > 0 {
		_, err = m.push(ctx, r, meta, specs)
	}
	if err != nil {
		fw.Error = err.Error()
	} else {
		for _, u := range sent {
			if b, ok := strings.CutPrefix(u.Ref, "refs/heads/"); ok {
				_ = r.Storer.SetReference(plumbing.NewHashReference(plumbing.ReferenceName(trackingPrefix+b), u.New))
			}
		}
	}
	if len(specs) == 0 && len(fw.Kept) == 0 && err == nil {
		return fw, nil
	}
	meta.LastForward = &forwardRecord{At: fw.At, Refs: fw.Refs, Kept: fw.Kept, Error: fw.Error}
	if werr := writeSettings(dir, meta); werr != nil && err == nil {
		err = werr
	}
	return fw, err
}
