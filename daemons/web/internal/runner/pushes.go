package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/kit/atomicfile"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// GateEvents is the gate's push feed (gateapi.Client).
type GateEvents interface {
	Events(ctx context.Context, since uint64, follow bool, fn func(gateapi.Event) error) error
}

// FollowPushes copies the gate's push events into the timelines of the
// tasks whose tokens pushed, until ctx ends. It resumes after the last
// event it handled (kept in seqFile), so a restart of terok-web or of the
// gate neither loses nor repeats one; it reconnects while the gate is away.
func (r *Runner) FollowPushes(ctx context.Context, ge GateEvents, seqFile string) {
	since, err := readSeq(seqFile)
	if err != nil {
		r.log.Warn().Err(err).Msg("the gate's push feed is followed from its start: pushes already in timelines come again")
	}
	for attempt := 0; ; attempt++ {
		err := ge.Events(ctx, since, true, func(ev gateapi.Event) error {
			if ev.Seq <= since {
				return nil
			}
			r.push(ev)
			since = ev.Seq
			if err := writeSeq(seqFile, since); err != nil {
				r.log.Warn().Err(err).Msg("keep the gate event position")
			}
			return nil
		})
		if ctx.Err() != nil {
			return
		}
		if attempt%30 == 0 && err != nil && !errors.Is(err, context.Canceled) {
			r.log.Debug().Err(err).Msg("gate event feed ended; reconnecting")
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

// push records one push event in its task's timeline and branch list.
func (r *Runner) push(ev gateapi.Event) {
	if ev.Kind != gateapi.EventPush || ev.Task == "" {
		return
	}
	t, err := r.store.Get(ev.Task)
	if err != nil || t.Project != ev.Repo {
		return // a token not minted by terok-web, or a removed task
	}
	branch := strings.TrimPrefix(ev.Ref, "refs/heads/")
	if ev.New != "" && !slices.Contains(t.Branches, branch) {
		t2, err := r.store.Update(t.ID, func(x *tasks.Record) {
			x.Branches = append(slices.Clone(x.Branches), branch)
		})
		if err != nil {
			r.log.Warn().Err(err).Str("task", t.ID).Msg("record a pushed branch")
		} else {
			t = t2
			r.publish(t)
		}
	}
	r.note(t, tasks.Entry{Kind: webapi.EntryPush, Time: ev.Time, Ref: branch, Old: ev.Old, New: ev.New, Commits: ev.Commits})
}

// readSeq reads the kept feed position (0 when there is none yet); a
// file that does not hold one number is an error naming it and the fix.
func readSeq(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the feed position %s: %w", path, err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s holds %q, not the feed position (one number): it is written again after the next push; remove it to start clean", path, strings.TrimSpace(string(b)))
	}
	return n, nil
}

func writeSeq(path string, n uint64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, []byte(strconv.FormatUint(n, 10)+"\n"), 0o600)
}
