package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fakedaemons"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

func intp(n int) *int { return &n }

// TestOverview: GET /overview leads with the user's work: the branches
// ahead of the default branch with their counts, the refused
// destinations and names of running tasks that no allow or deny has
// answered, the failed tasks (not a success, not a stopped one) until
// dismissed, then the running tasks; a gate that does not answer is
// named, and the rest still shown.
func TestOverview(t *testing.T) {
	f := newFixture(t)
	f.project()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.gate.Repos["demo"] = gateapi.RepoDetail{Repo: gateapi.Repo{Name: "demo", DefaultBranch: "main"}, Branches: []gateapi.Branch{
		{Name: "main", Head: "aaaa", Ahead: intp(0), Behind: intp(0)},
		{Name: "agent/k7qz3m", Head: "bbbb", Subject: "fix the parser", When: at, Ahead: intp(2), Behind: intp(1)},
		{Name: "agent/merged", Head: "cccc", Ahead: intp(0), Behind: intp(3)},
	}}
	run := f.running()
	bad := f.running()
	f.pm.Exit(bad.Container, 3)
	good := f.ended()
	stopped := f.running()
	f.must(req{method: "POST", path: Prefix + "/tasks/" + stopped.ID + "/stop"}, 200)
	for _, id := range []string{bad.ID, good.ID} {
		f.must(req{method: "GET", path: Prefix + "/tasks/" + id + "/wait"}, 200)
	}
	f.sh.SetEvents(run.Container, []shieldapi.Event{
		{Time: at, Kind: shieldapi.EventBlocked, Dest: "198.51.100.7", Port: 443, Proto: "tcp"},
		{Time: at.Add(time.Second), Kind: shieldapi.EventBlocked, Dest: "198.51.100.7", Port: 443, Proto: "tcp"},
		{Time: at.Add(2 * time.Second), Kind: shieldapi.EventRefused, Target: "deb.example.test"},
		{Time: at.Add(3 * time.Second), Kind: shieldapi.EventBlocked, Dest: "203.0.113.9", Port: 80, Proto: "tcp"},
		{Time: at.Add(4 * time.Second), Kind: shieldapi.EventAllow, Target: "203.0.113.9"},
		{Time: at.Add(5 * time.Second), Kind: shieldapi.EventRefused, Target: "denied.example.test"},
		{Time: at.Add(6 * time.Second), Kind: shieldapi.EventDeny, Target: "denied.example.test"},
	})

	get := func() webapi.Overview {
		t.Helper()
		var o webapi.Overview
		if err := json.Unmarshal([]byte(f.must(req{method: "GET", path: Prefix + "/overview"}, 200)), &o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	o := get()
	if len(o.Review) != 1 || o.Review[0] != (webapi.ReviewBranch{Project: "demo", Branch: "agent/k7qz3m", Head: "bbbb",
		Subject: "fix the parser", When: at, Ahead: 2, Behind: 1, Task: "k7qz3m"}) {
		t.Errorf("review: %+v, want agent/k7qz3m only, 2 ahead", o.Review)
	}
	var got []string
	for _, d := range o.Decisions {
		got = append(got, d.Kind+" "+d.Target)
		if d.Task != run.ID || d.Project != "demo" {
			t.Errorf("decision %+v: want task %s of demo", d, run.ID)
		}
		if d.Target == "198.51.100.7" && (d.Count != 2 || d.Port != 443 || !d.Last.Equal(at.Add(time.Second))) {
			t.Errorf("blocked 198.51.100.7: %+v, want twice, port 443, last at the second", d)
		}
	}
	if strings.Join(got, ";") != "lookup-refused deb.example.test;blocked 198.51.100.7" {
		t.Errorf("decisions %v, want the refused name and the blocked address, newest first (not the allowed or denied ones)", got)
	}
	if len(o.Failed) != 1 || o.Failed[0].ID != bad.ID {
		t.Errorf("failed: %+v, want %s only (exit 3; not the success, not the stopped task)", o.Failed, bad.ID)
	}
	if len(o.Running) != 1 || o.Running[0].ID != run.ID {
		t.Errorf("running: %+v, want %s", o.Running, run.ID)
	}

	// Dismissed, the failed task leaves the overview; its record stays.
	f.must(req{method: "POST", path: Prefix + "/overview/dismiss", body: `{"task": "` + bad.ID + `"}`}, 200)
	if o := get(); len(o.Failed) != 0 {
		t.Errorf("a dismissed task is still listed: %+v", o.Failed)
	}
	f.must(req{method: "GET", path: Prefix + "/tasks/" + bad.ID}, 200)
	body := f.must(req{method: "POST", path: Prefix + "/overview/dismiss", body: `{"task": "nosuch"}`}, 404)
	if msg := errorOf(t, body); !strings.Contains(msg, `no task "nosuch"`) {
		t.Errorf("dismissing an unknown task: %q", msg)
	}

	// The typed client reads the same.
	srv := httptest.NewServer(f.api)
	defer srv.Close()
	cl, err := webapi.NewURL(srv.URL, "secret-token-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	if o, err := cl.Overview(context.Background()); err != nil || len(o.Running) != 1 || len(o.Failed) != 0 || len(o.Review) != 1 {
		t.Errorf("the client's overview: %+v %v", o, err)
	}
	if err := cl.Dismiss(context.Background(), "nosuch"); !errors.Is(err, unixhttp.ErrNotFound) {
		t.Errorf("the client's dismissal of an unknown task: %v, want ErrNotFound", err)
	}

	// A gate that does not answer: named, the rest still there.
	f.gate.Set("Repo", fakedaemons.Down("/run/terok/gate.sock"))
	o = get()
	if len(o.Unknown) != 1 || !strings.Contains(o.Unknown[0], "project demo's branches") || !strings.Contains(o.Unknown[0], "terok-gate") {
		t.Errorf("unknown: %q, want project demo's branches naming terok-gate", o.Unknown)
	}
	if len(o.Running) != 1 || len(o.Decisions) != 2 {
		t.Errorf("with the gate down the rest is gone: %+v", o)
	}
}

// TestAllowForProject: an allow with "project" also adds the target to
// the project's allowlist (once), for its future tasks; with a duration
// it is refused (a project's list has no expiry), and so is a task that
// does not run.
func TestAllowForProject(t *testing.T) {
	f := newFixture(t)
	f.project()
	run := f.running()
	for range 2 {
		f.must(req{method: "POST", path: Prefix + "/tasks/" + run.ID + "/shield/allow", body: `{"target": "deb.example.test", "project": true}`}, 200)
	}
	var p webapi.ProjectInfo
	json.Unmarshal([]byte(f.must(req{method: "GET", path: Prefix + "/projects/demo"}, 200)), &p)
	if strings.Join(p.Shield.Allow, ",") != "deb.example.test" {
		t.Errorf("project allowlist %q, want deb.example.test once", p.Shield.Allow)
	}
	body := f.must(req{method: "POST", path: Prefix + "/tasks/" + run.ID + "/shield/allow", body: `{"target": "x.example.test", "for": "1h", "project": true}`}, 400)
	if msg := errorOf(t, body); !strings.Contains(msg, "has no expiry") {
		t.Errorf("allow for a while and for the project: %q", msg)
	}
	// A live allow the shield refuses is not written to the project.
	f.sh.Set("Allow", &fakeRefusal{})
	f.do(req{method: "POST", path: Prefix + "/tasks/" + run.ID + "/shield/allow", body: `{"target": "y.example.test", "project": true}`})
	json.Unmarshal([]byte(f.must(req{method: "GET", path: Prefix + "/projects/demo"}, 200)), &p)
	if strings.Join(p.Shield.Allow, ",") != "deb.example.test" {
		t.Errorf("a target the shield refused joined the project: %q", p.Shield.Allow)
	}
}

type fakeRefusal struct{}

func (*fakeRefusal) Error() string { return "denied by policy" }
