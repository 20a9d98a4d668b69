package repos

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// RefUpdate is one ref a push changed.
type RefUpdate struct {
	Ref string
	Old plumbing.Hash // zero: created
	New plumbing.Hash // zero: deleted
}

// Applied returns the updates whose ref now holds the new value (deleted
// when New is zero): those that landed.
func (m *Manager) Applied(name string, ups []RefUpdate) []RefUpdate {
	r, err := git.PlainOpen(m.Dir(name))
	if err != nil {
		return nil
	}
	var out []RefUpdate
	for _, u := range ups {
		if u.Old == u.New {
			continue
		}
		ref, err := r.Reference(plumbing.ReferenceName(u.Ref), false)
		switch {
		case u.New.IsZero() && errors.Is(err, plumbing.ErrReferenceNotFound):
			out = append(out, u)
		case err == nil && ref.Hash() == u.New:
			out = append(out, u)
		}
	}
	return out
}

// CountPushed counts, for each landed update of one push, the commits it
// brought: old..new for a moved ref; for a created ref the commits not
// reachable from any branch, tag or upstream branch as they were before
// the push; 0 for a deletion. A count git cannot give is -1.
func (m *Manager) CountPushed(ctx context.Context, name string, ups []RefUpdate) []int {
	dir := m.Dir(name)
	out := make([]int, len(ups))
	// What the repository held before the push: every ref the push did
	// not touch, and the old values of those it moved.
	var before []string
	var exclHeads, exclTags, exclRemotes []string
	for _, u := range ups {
		if !u.Old.IsZero() {
			before = append(before, u.Old.String())
		}
		switch {
		case strings.HasPrefix(u.Ref, "refs/heads/"):
			exclHeads = append(exclHeads, "--exclude="+strings.TrimPrefix(u.Ref, "refs/heads/"))
		case strings.HasPrefix(u.Ref, "refs/tags/"):
			exclTags = append(exclTags, "--exclude="+strings.TrimPrefix(u.Ref, "refs/tags/"))
		case strings.HasPrefix(u.Ref, "refs/remotes/"):
			exclRemotes = append(exclRemotes, "--exclude="+strings.TrimPrefix(u.Ref, "refs/remotes/"))
		}
	}
	for i, u := range ups {
		var args []string
		switch {
		case u.New.IsZero():
			continue
		case !u.Old.IsZero():
			args = []string{"rev-list", "--count", u.Old.String() + ".." + u.New.String()}
		default:
			args = append([]string{"rev-list", "--count", u.New.String(), "--not"}, before...)
			args = append(append(args, exclHeads...), "--branches")
			args = append(append(args, exclTags...), "--tags")
			args = append(append(args, exclRemotes...), "--remotes")
		}
		b, err := runGit(ctx, dir, args...)
		n, perr := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || perr != nil {
			m.log.Warn().Err(err).Str("repo", name).Str("ref", u.Ref).Msg("count pushed commits")
			n = -1
		}
		out[i] = n
	}
	return out
}
