package repos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/names"
)

func validate(req *gateapi.EnsureRepoRequest) error {
	if err := names.CheckProject(req.Name); err != nil {
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
	if cur, err := readSettings(dir); err == nil {
		if cur.Upstream != req.Upstream {
			return cur.wire(), false, fmt.Errorf("%w: %s has upstream %q, asked for %q; delete it first to change the upstream",
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
			if err := writeSettings(dir, cur); err != nil {
				return cur.wire(), false, err
			}
		}
		return cur.wire(), false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return gateapi.Repo{}, false, err
	}

	s := settings{Name: req.Name, Upstream: req.Upstream, Policy: req.Policy, PollSeconds: req.PollSeconds,
		SSHKey: req.SSHKey, Created: time.Now().UTC().Truncate(time.Second)}
	if s.Policy == "" {
		s.Policy = gateapi.PolicyGatekeeping
	}
	tmp, err := os.MkdirTemp(filepath.Join(m.root, "tmp"), req.Name+"-")
	if err != nil {
		return gateapi.Repo{}, false, fmt.Errorf("create work dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	if req.Upstream == "" {
		s.DefaultBranch = req.DefaultBranch
		if s.DefaultBranch == "" {
			s.DefaultBranch = "main"
		}
		if _, err := git.PlainInitWithOptions(tmp, &git.PlainInitOptions{Bare: true,
			InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(s.DefaultBranch)}}); err != nil {
			return gateapi.Repo{}, false, fmt.Errorf("init repository: %w", err)
		}
	} else {
		if err := m.initMirror(ctx, tmp, &s, req.DefaultBranch); err != nil {
			return gateapi.Repo{}, false, err
		}
	}
	if err := writeSettings(tmp, s); err != nil {
		return gateapi.Repo{}, false, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return gateapi.Repo{}, false, fmt.Errorf("move repository into place: %w", err)
	}
	m.log.Info().Str("repo", req.Name).Str("upstream", Redact(req.Upstream)).Str("policy", s.Policy).Msg("repository created")
	return s.wire(), true, nil
}

// initMirror makes dir a mirror of s.Upstream: the upstream's branches
// fetched and the gate's own branches set to them. The default branch is
// wantDefault, else the upstream's.
func (m *Manager) initMirror(ctx context.Context, dir string, s *settings, wantDefault string) error {
	r, err := git.PlainInit(dir, true)
	if err != nil {
		return fmt.Errorf("init repository: %w", err)
	}
	if _, err := r.CreateRemote(&gitconfig.RemoteConfig{Name: UpstreamRemote, URLs: []string{s.Upstream},
		Fetch: []gitconfig.RefSpec{"+refs/heads/*:" + trackingPrefix + "*"}}); err != nil {
		return fmt.Errorf("add upstream: %w", err)
	}
	auth, err := m.auth(*s)
	if err != nil {
		return err
	}
	rem, _ := r.Remote(UpstreamRemote)
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: auth})
	if err != nil && !errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return fmt.Errorf("%w: list %s: %v", ErrUpstream, Redact(s.Upstream), err)
	}
	def := wantDefault
	if def == "" {
		def = upstreamDefault(refs)
	}
	s.DefaultBranch = def
	if err := r.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.NewBranchReferenceName(def))); err != nil {
		return fmt.Errorf("set HEAD: %w", err)
	}
	if len(refs) == 0 {
		return nil
	}
	if _, err := m.fetch(ctx, dir, *s); err != nil {
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

// upstreamDefault picks the default branch from an upstream's refs: where
// its HEAD points, else main, else master, else the first branch.
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
