package repos

import (
	"fmt"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/names"
)

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
			upSet, _ = ancestors(r, up.Hash())
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
			if mine, err := ancestors(r, ref.Hash()); err == nil {
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
func ancestors(r *git.Repository, h plumbing.Hash) (map[plumbing.Hash]struct{}, error) {
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
