package overview

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/atomicfile"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// FailedWindow is how long a failed task stays on the overview.
const FailedWindow = 24 * time.Hour

// MaxDecisions bounds the open decisions kept per task (the newest).
const MaxDecisions = 50

// Projects lists the projects (projects.Service).
type Projects interface {
	List() ([]webapi.ProjectInfo, error)
}

// Review is a project's gate repository (review.Service).
type Review interface {
	Info(ctx context.Context, project string) (webapi.GateInfo, error)
}

// Tasks lists task records (runner.Runner).
type Tasks interface {
	List(project string) ([]tasks.Record, error)
}

// Audit reads a task's shield events (egress.Service).
type Audit interface {
	Audit(ctx context.Context, id string, follow bool, fn func(shieldapi.Event) error) error
}

// Service builds the overview.
type Service struct {
	projects Projects
	review   Review
	tasks    Tasks
	audit    Audit
	file     string
	now      func() time.Time

	mu sync.Mutex // the dismissal file
}

// New returns the service; dismissed is the file that keeps the
// dismissed failed tasks (e.g. $TEROK_STATE_DIR/web/dismissed.json).
func New(p Projects, r Review, t Tasks, a Audit, dismissed string) *Service {
	return &Service{projects: p, review: r, tasks: t, audit: a, file: dismissed, now: time.Now}
}

// SetClock replaces the clock (tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Overview is what needs the user now. A part that cannot be read is
// named in Unknown; the others are still given.
func (s *Service) Overview(ctx context.Context) (webapi.Overview, error) {
	out := webapi.Overview{Review: []webapi.ReviewBranch{}, Decisions: []webapi.Decision{}, Failed: []webapi.Task{}, Running: []webapi.Task{}}
	all, err := s.tasks.List("")
	if err != nil {
		return out, err
	}
	dismissed, err := s.dismissed()
	if err != nil {
		return out, err
	}
	since := s.now().Add(-FailedWindow)
	for _, t := range all {
		switch {
		case !t.Done():
			out.Running = append(out.Running, t.Wire())
		case failed(t) && t.Ended != nil && t.Ended.After(since) && !dismissed[t.ID]:
			out.Failed = append(out.Failed, t.Wire())
		}
	}
	newest := func(ts []webapi.Task, at func(webapi.Task) time.Time) {
		sort.SliceStable(ts, func(i, j int) bool { return at(ts[i]).After(at(ts[j])) })
	}
	newest(out.Running, func(t webapi.Task) time.Time { return t.Created })
	newest(out.Failed, func(t webapi.Task) time.Time { return *t.Ended })

	s.reviewBranches(ctx, &out)
	for _, t := range all {
		if t.Done() || t.Container == "" {
			continue
		}
		ds, err := s.decisions(ctx, t)
		if err != nil {
			out.Unknown = append(out.Unknown, fmt.Sprintf("the shield's decisions for task %s: %v", t.ID, err))
			continue
		}
		out.Decisions = append(out.Decisions, ds...)
	}
	sort.SliceStable(out.Decisions, func(i, j int) bool { return out.Decisions[i].Last.After(out.Decisions[j].Last) })
	return out, nil
}

// failed is a task that failed to start or ended with a non-zero code
// by itself (a stopped task was stopped on purpose).
func failed(t tasks.Record) bool {
	return t.State == webapi.StateFailed || t.State == webapi.StateExited && t.ExitCode != nil && *t.ExitCode != 0
}

// reviewBranches adds every project's branches that are ahead of the
// default branch. A project without a gate repository yet has none.
func (s *Service) reviewBranches(ctx context.Context, out *webapi.Overview) {
	ps, err := s.projects.List()
	if err != nil {
		out.Unknown = append(out.Unknown, "the projects: "+err.Error())
		return
	}
	for _, p := range ps {
		g, err := s.review.Info(ctx, p.Name)
		if fail.Status(err) == 404 {
			continue
		}
		if err != nil {
			out.Unknown = append(out.Unknown, fmt.Sprintf("project %s's branches: %v", p.Name, err))
			continue
		}
		for _, b := range g.Branches {
			if b.Name == g.DefaultBranch || b.Ahead == nil || *b.Ahead == 0 {
				continue
			}
			rb := webapi.ReviewBranch{Project: p.Name, Branch: b.Name, Head: b.Head, Subject: b.Subject, When: b.When, Ahead: *b.Ahead}
			if b.Behind != nil {
				rb.Behind = *b.Behind
			}
			rb.Task, _ = strings.CutPrefix(b.Name, "agent/")
			if rb.Task == b.Name {
				rb.Task = ""
			}
			out.Review = append(out.Review, rb)
		}
	}
	sort.SliceStable(out.Review, func(i, j int) bool { return out.Review[i].When.After(out.Review[j].When) })
}

// decisions are running task t's refused destinations that no allow or
// deny answered since, from its shield audit in order: a blocked
// connection or refused lookup opens one, an allow or deny of the same
// target closes it (a later refusal opens it again).
func (s *Service) decisions(ctx context.Context, t tasks.Record) ([]webapi.Decision, error) {
	open := map[string]*webapi.Decision{}
	err := s.audit.Audit(ctx, t.ID, false, func(ev shieldapi.Event) error {
		switch ev.Kind {
		case shieldapi.EventBlocked, shieldapi.EventRefused:
			target := ev.Dest
			if ev.Kind == shieldapi.EventRefused || target == "" {
				target = ev.Target
			}
			if target == "" {
				return nil
			}
			key := ev.Kind + " " + target
			d := open[key]
			if d == nil {
				d = &webapi.Decision{Task: t.ID, Project: t.Project, Kind: ev.Kind, Target: target}
				open[key] = d
			}
			d.Count++
			d.Last = ev.Time
			if ev.Port != 0 {
				d.Port, d.Proto = ev.Port, ev.Proto
			}
		case shieldapi.EventAllow, shieldapi.EventDeny:
			delete(open, shieldapi.EventBlocked+" "+ev.Target)
			delete(open, shieldapi.EventRefused+" "+ev.Target)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	ds := make([]webapi.Decision, 0, len(open))
	for _, d := range open {
		ds = append(ds, *d)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].Last.After(ds[j].Last) })
	if len(ds) > MaxDecisions {
		ds = ds[:MaxDecisions]
	}
	return ds, nil
}

// dismissedFile is the file's content: task ids and when each was
// dismissed (entries older than FailedWindow are dropped on the next
// write).
type dismissedFile struct {
	Tasks map[string]time.Time `json:"tasks"`
}

func (s *Service) read() (dismissedFile, error) {
	d := dismissedFile{Tasks: map[string]time.Time{}}
	b, err := os.ReadFile(s.file)
	if errors.Is(err, fs.ErrNotExist) {
		return d, nil
	}
	if err != nil {
		return d, fmt.Errorf("read the dismissed tasks: %w", err)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("%s is not a dismissal file (%v): delete it, and dismissed failed tasks show again", s.file, err)
	}
	if d.Tasks == nil {
		d.Tasks = map[string]time.Time{}
	}
	return d, nil
}

func (s *Service) dismissed() (map[string]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.read()
	if err != nil {
		return nil, err
	}
	m := make(map[string]bool, len(d.Tasks))
	for id := range d.Tasks {
		m[id] = true
	}
	return m, nil
}

// Dismiss hides failed task id from the overview, for good (the record
// and its page stay).
func (s *Service) Dismiss(req webapi.DismissRequest) error {
	known := false
	all, err := s.tasks.List("")
	if err != nil {
		return err
	}
	for _, t := range all {
		known = known || t.ID == req.Task
	}
	if !known {
		return fail.NotFound("no task %q: dismiss a task the overview lists", req.Task)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.read()
	if err != nil {
		return err
	}
	now := s.now()
	for id, at := range d.Tasks {
		if now.Sub(at) > FailedWindow {
			delete(d.Tasks, id)
		}
	}
	d.Tasks[req.Task] = now.UTC()
	if err := atomicfile.WriteJSON(s.file, d, 0o600); err != nil {
		return fmt.Errorf("keep the dismissal: %w", err)
	}
	return nil
}
