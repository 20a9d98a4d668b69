// Package review is a project's gate repository as the reviewer sees it:
// its branches, a branch's commits and diff, a sync from the upstream,
// and the promotion of a branch upstream, which is noted in the timeline
// of every task that pushed the branch.
package review

import (
	"context"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/projects"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// Gate is what the service needs of the gate (gateapi.Client).
type Gate interface {
	Repo(ctx context.Context, name string) (gateapi.RepoDetail, error)
	Log(ctx context.Context, name, branch string, limit int) ([]gateapi.Commit, error)
	Sync(ctx context.Context, name string) (gateapi.SyncResult, error)
	Promote(ctx context.Context, name string, req gateapi.PromoteRequest) (gateapi.PromoteResult, error)
	Diff(ctx context.Context, repo, base, head string) (gateapi.Diff, error)
}

// Timelines notes a promotion in the tasks that pushed the branch
// (runner.Runner).
type Timelines interface {
	NotePromotion(project, branch, target, commit string)
}

// Service is the review of projects' gate repositories.
type Service struct {
	gate      Gate
	projects  *projects.Store
	timelines Timelines
	hostURL   string
}

// New returns the service; hostURL is the gate's base URL for the host
// (clone URLs shown to users, e.g. http://127.0.0.1:9418).
func New(gate Gate, ps *projects.Store, tl Timelines, hostURL string) *Service {
	return &Service{gate: gate, projects: ps, timelines: tl, hostURL: hostURL}
}

// changeTimeout bounds a sync or promotion once it runs on its own.
const changeTimeout = 5 * time.Minute

// Info is the project's gate repository: clone URL, upstream, default
// branch and branches with ahead/behind.
func (s *Service) Info(ctx context.Context, project string) (webapi.GateInfo, error) {
	p, err := s.projects.Get(project)
	if err != nil {
		return webapi.GateInfo{}, err
	}
	d, err := s.gate.Repo(ctx, p.Name)
	if unixhttp.StatusOf(err) == 404 {
		return webapi.GateInfo{}, fail.Because(unixhttp.ErrNotFound, err, "project %s has no gate repository yet: the first task creates it", p.Name)
	}
	if err != nil {
		return webapi.GateInfo{}, fail.Daemon("terok-gate", "", err)
	}
	out := webapi.GateInfo{Project: p.Name, CloneURL: s.hostURL + "/" + p.Name + ".git",
		Upstream: d.Upstream, DefaultBranch: d.DefaultBranch, Branches: []webapi.Branch{}}
	for _, b := range d.Branches {
		out.Branches = append(out.Branches, webapi.Branch{Name: b.Name, Head: b.Head, Subject: b.Subject, When: b.When, Ahead: b.Ahead, Behind: b.Behind})
	}
	return out, nil
}

// MaxLog is the most commits Log gives (the gate's own bound).
const MaxLog = 1000

// Log is the newest commits of branch ("" the default branch); limit 0
// is the gate's default (50), else 1 to MaxLog.
func (s *Service) Log(ctx context.Context, project, branch string, limit int) ([]gateapi.Commit, error) {
	if limit < 0 || limit > MaxLog {
		return nil, fail.BadRequest("limit %d: give 1-%d commits (leave it out for 50)", limit, MaxLog)
	}
	p, err := s.projects.Get(project)
	if err != nil {
		return nil, err
	}
	cs, err := s.gate.Log(ctx, p.Name, branch, limit)
	if err != nil {
		return nil, fail.Daemon("terok-gate", "", err)
	}
	return cs, nil
}

// Diff compares branch head with base ("" the default branch) from their
// merge base.
func (s *Service) Diff(ctx context.Context, project, base, head string) (gateapi.Diff, error) {
	if head == "" {
		return gateapi.Diff{}, fail.BadRequest("?branch= is missing: name the branch to compare, e.g. ?branch=agent/abc123 (terok gate branches lists them)")
	}
	p, err := s.projects.Get(project)
	if err != nil {
		return gateapi.Diff{}, err
	}
	d, err := s.gate.Diff(ctx, p.Name, base, head)
	if err != nil {
		return gateapi.Diff{}, fail.Daemon("terok-gate", "", err)
	}
	return d, nil
}

// Sync fetches the project's upstream into the gate now. Once asked, it
// runs to its end when the caller goes away.
func (s *Service) Sync(ctx context.Context, project string) (gateapi.SyncResult, error) {
	p, err := s.projects.Get(project)
	if err != nil {
		return gateapi.SyncResult{}, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), changeTimeout)
	defer cancel()
	res, err := s.gate.Sync(ctx, p.Name)
	if err != nil {
		return res, projects.GateErr(p.Project, "sync "+p.Name, err)
	}
	return res, nil
}

// Promote pushes a gate branch upstream (refused when the branch moved
// from req.Expect) and notes it in the timeline of every task that
// pushed the branch. Once asked, it runs to its end when the caller goes
// away.
func (s *Service) Promote(ctx context.Context, project string, req webapi.PromoteRequest) (gateapi.PromoteResult, error) {
	if req.Branch == "" {
		return gateapi.PromoteResult{}, fail.BadRequest("no branch to promote: give {\"branch\": \"agent/abc123\"} (terok gate branches lists them)")
	}
	p, err := s.projects.Get(project)
	if err != nil {
		return gateapi.PromoteResult{}, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), changeTimeout)
	defer cancel()
	res, err := s.gate.Promote(ctx, p.Name, gateapi.PromoteRequest{Branch: req.Branch, Target: req.Target, Force: req.Force, Expect: req.Expect})
	if err != nil {
		return res, projects.GateErr(p.Project, "promote "+req.Branch, err)
	}
	s.timelines.NotePromotion(p.Name, req.Branch, res.Target, res.Commit)
	return res, nil
}
