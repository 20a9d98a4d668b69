package overview

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// fakes of the seams: no projects, a fixed list of records, no audit.
type noProjects struct{}

func (noProjects) List() ([]webapi.ProjectInfo, error) { return nil, nil }

type noReview struct{}

func (noReview) Info(context.Context, string) (webapi.GateInfo, error) { return webapi.GateInfo{}, nil }

type records []tasks.Record

func (r records) List(string) ([]tasks.Record, error) { return r, nil }

type noAudit struct{}

func (noAudit) Audit(context.Context, string, bool, func(shieldapi.Event) error) error { return nil }

func code(n int) *int { return &n }

func TestFailedWindowAndDismissal(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { x := now.Add(-d); return &x }
	rs := records{
		{ID: "recent", State: webapi.StateExited, ExitCode: code(2), Ended: ago(time.Hour)},
		{ID: "nostart", State: webapi.StateFailed, Ended: ago(2 * time.Hour)},
		{ID: "old", State: webapi.StateExited, ExitCode: code(1), Ended: ago(25 * time.Hour)},
		{ID: "ok", State: webapi.StateExited, ExitCode: code(0), Ended: ago(time.Hour)},
		{ID: "stopped", State: webapi.StateStopped, ExitCode: code(143), Ended: ago(time.Hour)},
	}
	file := filepath.Join(t.TempDir(), "web", "dismissed.json")
	os.MkdirAll(filepath.Dir(file), 0o700)
	s := New(noProjects{}, noReview{}, rs, noAudit{}, file)
	s.SetClock(func() time.Time { return now })
	ids := func(s *Service) string {
		t.Helper()
		o, err := s.Overview(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range o.Failed {
			out = append(out, x.ID)
		}
		return strings.Join(out, ",")
	}
	if got := ids(s); got != "recent,nostart" {
		t.Fatalf("failed %q, want recent,nostart (newest first; not the old one, the success or the stopped one)", got)
	}
	if err := s.Dismiss(webapi.DismissRequest{Task: "recent"}); err != nil {
		t.Fatal(err)
	}
	// Kept in the file: a new service (terok-web restarted) reads it.
	s2 := New(noProjects{}, noReview{}, rs, noAudit{}, file)
	s2.SetClock(func() time.Time { return now })
	if got := ids(s2); got != "nostart" {
		t.Fatalf("after the dismissal and a restart: %q, want nostart", got)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("dismissal file: %v %v, want mode 0600", fi, err)
	}
	// A day later, the next dismissal drops the old entry.
	s2.SetClock(func() time.Time { return now.Add(25 * time.Hour) })
	if err := s2.Dismiss(webapi.DismissRequest{Task: "nostart"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(file)
	if strings.Contains(string(b), `"recent"`) || !strings.Contains(string(b), `"nostart"`) {
		t.Fatalf("the file keeps entries past the window: %s", b)
	}
	// A broken file is named with the fix, not taken as empty.
	os.WriteFile(file, []byte("{nope"), 0o600)
	if _, err := s2.Overview(context.Background()); err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Fatalf("a broken dismissal file: %v", err)
	}
}

// flood is a task's audit of n distinct refused names, a second apart.
type flood int

func (n flood) Audit(_ context.Context, _ string, _ bool, fn func(shieldapi.Event) error) error {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range int(n) {
		if err := fn(shieldapi.Event{Time: at.Add(time.Duration(i) * time.Second), Kind: shieldapi.EventRefused, Target: fmt.Sprintf("n%d.example.test", i)}); err != nil {
			return err
		}
	}
	return nil
}

// TestHostileDecisionFlood: a task that looks up many names shows at
// most MaxDecisions of them, the newest.
func TestHostileDecisionFlood(t *testing.T) {
	s := New(noProjects{}, noReview{}, records{{ID: "t1", Project: "p", State: webapi.StateRunning, Container: "c1"}}, flood(MaxDecisions+30),
		filepath.Join(t.TempDir(), "dismissed.json"))
	o, err := s.Overview(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Decisions) != MaxDecisions || o.Decisions[0].Target != fmt.Sprintf("n%d.example.test", MaxDecisions+29) {
		t.Fatalf("%d decisions, first %+v: want the newest %d", len(o.Decisions), o.Decisions[0], MaxDecisions)
	}
}
