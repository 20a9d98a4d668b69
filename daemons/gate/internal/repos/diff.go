package repos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/names"
)

// emptyTree is git's empty tree (SHA-1), the start of a diff between
// histories that share no commit.
const emptyTree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

// Diff compares branch head with branch base (the default branch when
// base is empty) from their merge base, as `git diff base...head`: the
// commits on head that base lacks, the files changed with their line
// counts, and the unified patch up to gateapi.MaxPatchBytes.
func (m *Manager) Diff(ctx context.Context, name, base, head string) (gateapi.Diff, error) {
	meta, err := m.Meta(name)
	if err != nil {
		return gateapi.Diff{}, err
	}
	if base == "" {
		base = meta.DefaultBranch
	}
	if head == "" {
		return gateapi.Diff{}, fmt.Errorf("%w: a diff needs the head branch to compare with %s", ErrInvalid, base)
	}
	for _, b := range []string{base, head} {
		if err := names.CheckBranch(b); err != nil {
			return gateapi.Diff{}, err
		}
	}
	dir := m.Dir(name)
	r, err := git.PlainOpen(dir)
	if err != nil {
		return gateapi.Diff{}, fmt.Errorf("open repository: %w", err)
	}
	d := gateapi.Diff{Repo: name, Base: base, Head: head, Commits: []gateapi.Commit{}, Files: []gateapi.FileChange{}}
	for _, b := range []struct {
		name string
		to   *string
	}{{base, &d.BaseCommit}, {head, &d.HeadCommit}} {
		ref, err := r.Reference(plumbing.NewBranchReferenceName(b.name), true)
		if err != nil {
			return gateapi.Diff{}, fmt.Errorf("%w: %s in %s", ErrNoBranch, b.name, name)
		}
		*b.to = ref.Hash().String()
	}
	from := emptyTree
	mb, err := runGit(ctx, dir, "merge-base", d.BaseCommit, d.HeadCommit)
	var ee *exec.ExitError
	switch {
	case err == nil:
		d.MergeBase = strings.TrimSpace(string(mb))
		from = d.MergeBase
	case errors.As(err, &ee) && ee.ExitCode() == 1:
		// No common history: everything on head is new.
	default:
		return gateapi.Diff{}, fmt.Errorf("merge base of %s and %s: %w", base, head, err)
	}
	if d.Commits, d.CommitsTruncated, err = commitsBetween(ctx, dir, d.BaseCommit, d.HeadCommit); err != nil {
		return gateapi.Diff{}, err
	}
	diffArgs := []string{"diff", "-M", "--no-ext-diff", "--no-textconv", "--no-color"}
	raw, err := runGit(ctx, dir, append(diffArgs, "-z", "--raw", "--numstat", from, d.HeadCommit, "--")...)
	if err != nil {
		return gateapi.Diff{}, fmt.Errorf("diff %s...%s: %w", base, head, err)
	}
	files, err := parseRawNumstat(raw)
	if err != nil {
		return gateapi.Diff{}, fmt.Errorf("diff %s...%s: %w", base, head, err)
	}
	for _, f := range files {
		d.Added += f.Added
		d.Removed += f.Removed
	}
	if len(files) > gateapi.MaxDiffFiles {
		files, d.FilesTruncated = files[:gateapi.MaxDiffFiles], true
	}
	d.Files = files
	patch, more, err := readGit(ctx, dir, gateapi.MaxPatchBytes, append(diffArgs, from, d.HeadCommit, "--")...)
	if err != nil {
		return gateapi.Diff{}, fmt.Errorf("patch %s...%s: %w", base, head, err)
	}
	if more {
		// Cut at the last complete line.
		if i := bytes.LastIndexByte(patch, '\n'); i >= 0 {
			patch = patch[:i+1]
		}
		d.Truncated = true
	}
	d.Patch = string(patch)
	return d, nil
}

// commitsBetween lists the commits reachable from head and not from base,
// newest first, at most gateapi.MaxDiffCommits.
func commitsBetween(ctx context.Context, dir, base, head string) ([]gateapi.Commit, bool, error) {
	const fields = 6
	out, err := runGit(ctx, dir, "log", "-z", "--max-count="+strconv.Itoa(gateapi.MaxDiffCommits+1),
		"--format=%H%x00%P%x00%an%x00%ae%x00%at%x00%s", base+".."+head, "--")
	if err != nil {
		return nil, false, fmt.Errorf("list commits: %w", err)
	}
	parts := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	list := []gateapi.Commit{}
	if len(out) == 0 {
		return list, false, nil
	}
	if len(parts)%fields != 0 {
		return nil, false, fmt.Errorf("list commits: unexpected git log output (%d fields)", len(parts))
	}
	for i := 0; i+fields <= len(parts); i += fields {
		p := parts[i : i+fields]
		sec, _ := strconv.ParseInt(p[4], 10, 64)
		c := gateapi.Commit{Hash: p[0], Parents: strings.Fields(p[1]), Author: p[2], Email: p[3],
			When: time.Unix(sec, 0).UTC(), Subject: p[5]}
		if c.Parents == nil {
			c.Parents = []string{}
		}
		list = append(list, c)
	}
	truncated := len(list) > gateapi.MaxDiffCommits
	if truncated {
		list = list[:gateapi.MaxDiffCommits]
	}
	return list, truncated, nil
}

// parseRawNumstat reads `git diff -z --raw --numstat`: first one raw entry
// per file (":modes hashes STATUS\0path\0[newpath\0]"), then one numstat
// entry per file in the same order ("added\tremoved\tpath\0", or for a
// rename "added\tremoved\t\0old\0new\0"; "-" counts for binary files).
func parseRawNumstat(b []byte) ([]gateapi.FileChange, error) {
	tok := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	if len(b) == 0 {
		return []gateapi.FileChange{}, nil
	}
	var files []gateapi.FileChange
	i := 0
	next := func() (string, error) {
		if i >= len(tok) {
			return "", errors.New("diff output ends early")
		}
		i++
		return tok[i-1], nil
	}
	for i < len(tok) && strings.HasPrefix(tok[i], ":") {
		meta, _ := next()
		fs := strings.Fields(meta)
		if len(fs) < 5 {
			return nil, fmt.Errorf("bad raw diff entry %q", meta)
		}
		st := fs[4]
		f := gateapi.FileChange{}
		switch st[0] {
		case 'A':
			f.Status = gateapi.FileAdded
		case 'M':
			f.Status = gateapi.FileModified
		case 'D':
			f.Status = gateapi.FileDeleted
		case 'T':
			f.Status = gateapi.FileTypeChanged
		case 'R':
			f.Status = gateapi.FileRenamed
		case 'C':
			f.Status = gateapi.FileCopied
		default:
			f.Status = gateapi.FileModified
		}
		p, err := next()
		if err != nil {
			return nil, err
		}
		if st[0] == 'R' || st[0] == 'C' {
			f.OldPath = p
			if p, err = next(); err != nil {
				return nil, err
			}
		}
		f.Path = p
		files = append(files, f)
	}
	for k := range files {
		t, err := next()
		if err != nil {
			return nil, err
		}
		fs := strings.SplitN(t, "\t", 3)
		if len(fs) != 3 {
			return nil, fmt.Errorf("bad numstat entry %q", t)
		}
		if fs[2] == "" { // rename or copy: two more tokens
			if _, err := next(); err != nil {
				return nil, err
			}
			if _, err := next(); err != nil {
				return nil, err
			}
		}
		if fs[0] == "-" && fs[1] == "-" {
			files[k].Binary = true
			continue
		}
		files[k].Added, _ = strconv.Atoi(fs[0])
		files[k].Removed, _ = strconv.Atoi(fs[1])
	}
	if files == nil {
		files = []gateapi.FileChange{}
	}
	return files, nil
}
