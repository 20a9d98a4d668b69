package api

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/auth"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fakedaemons"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// setup prepares a fixture for one case and returns what {task} in the
// path stands for ("" when it has none).
type setup func(f *fixture) string

var (
	noTask     setup = func(f *fixture) string { return "" }
	withProj   setup = func(f *fixture) string { f.project(); return "" }
	runningOne setup = func(f *fixture) string { f.project(); return f.running().ID }
	endedOne   setup = func(f *fixture) string { f.project(); return f.ended().ID }
)

// TestRoutes: every route, once as it should go and once for each way
// its caller can get it wrong: the status, and the message people read
// (what went wrong and the fix, no status words).
func TestRoutes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  setup
		r      req
		status int
		want   string // in the body
	}{
		{"health", noTask, req{method: "GET", path: "/v1/health"}, 200, `"name": "terok-web"`},
		{"health under /api", noTask, req{method: "GET", path: Prefix + "/health"}, 200, `"terok-web"`},
		{"no such route", noTask, req{method: "GET", path: Prefix + "/nope"}, 404, "no such route: GET /api/v1/nope"},
		{"a method the route does not take", noTask, req{method: "PATCH", path: Prefix + "/projects"}, 405, "method PATCH not allowed"},

		{"projects", withProj, req{method: "GET", path: Prefix + "/projects"}, 200, `"sk-secret"`},
		{"projects to a browser", withProj, req{method: "GET", path: Prefix + "/projects", via: auth.ViaCookie}, 200, `"API_KEY": "\u003chidden\u003e"`},
		{"create", noTask, req{method: "POST", path: Prefix + "/projects", body: `{"name": "demo"}`}, 201, `"name": "demo"`},
		{"create twice", withProj, req{method: "POST", path: Prefix + "/projects", body: `{"name": "demo"}`}, 409, "project demo exists"},
		{"create with an unknown field", noTask, req{method: "POST", path: Prefix + "/projects", body: `{"name": "demo", "nmae": "x"}`}, 400, `unknown field "nmae"`},
		{"create a bad name", noTask, req{method: "POST", path: Prefix + "/projects", body: `{"name": "Demo X"}`}, 400, `project name "Demo X": use 1-48 lower-case letters`},
		{"create an invalid project", noTask, req{method: "POST", path: Prefix + "/projects", body: `{"name": "demo", "limits": {"memory": "lots"}}`}, 400, "limits.memory: \"lots\" is not a size: use e.g. 512m or 2g"},
		{"show", withProj, req{method: "GET", path: Prefix + "/projects/demo"}, 200, `"command": "make"`},
		{"show a missing one", noTask, req{method: "GET", path: Prefix + "/projects/nosuch"}, 404, "no such project: nosuch (terok project add nosuch creates it)"},
		{"replace", withProj, req{method: "PUT", path: Prefix + "/projects/demo", body: `{"image": "localhost/x:1"}`}, 200, `"image": "localhost/x:1"`},
		{"rename", withProj, req{method: "PUT", path: Prefix + "/projects/demo", body: `{"name": "other"}`}, 400, "cannot be renamed"},
		{"replace a missing one", noTask, req{method: "PUT", path: Prefix + "/projects/nosuch", body: `{}`}, 404, "no such project: nosuch"},
		{"delete", withProj, req{method: "DELETE", path: Prefix + "/projects/demo"}, 200, `"deleted": "demo"`},
		{"delete with a running task", runningOne, req{method: "DELETE", path: Prefix + "/projects/demo"}, 409, "stop it first (terok task stop"},
		{"delete a missing one", noTask, req{method: "DELETE", path: Prefix + "/projects/nosuch"}, 404, "no such project: nosuch"},

		{"gate", withProj, req{method: "GET", path: Prefix + "/projects/demo/gate"}, 200, `"clone_url": "http://127.0.0.1:9418/demo.git"`},
		{"gate before the repository", func(f *fixture) string {
			f.gate.Set("EnsureRepo", fakedaemons.Down("/run/terok/gate.sock"))
			f.project()
			f.gate.Set("EnsureRepo", nil)
			return ""
		}, req{method: "GET", path: Prefix + "/projects/demo/gate"}, 404, "project demo has no gate repository yet: the first task creates it"},
		{"gate log", withProj, req{method: "GET", path: Prefix + "/projects/demo/gate/log?branch=main&limit=5"}, 200, `"hash": "3f0c1d2e"`},
		{"gate log, limit not a number", withProj, req{method: "GET", path: Prefix + "/projects/demo/gate/log?limit=ten"}, 400, `limit="ten": give a whole number, e.g. ?limit=50`},
		{"gate log, limit too large", withProj, req{method: "GET", path: Prefix + "/projects/demo/gate/log?limit=5000"}, 400, "limit 5000: give 1-1000 commits"},
		{"gate sync", withProj, req{method: "POST", path: Prefix + "/projects/demo/gate/sync"}, 200, `"repo": "demo"`},
		{"gate sync, gate down", func(f *fixture) string {
			f.project()
			f.gate.Set("Sync", fakedaemons.Down("/run/terok/gate.sock"))
			return ""
		}, req{method: "POST", path: Prefix + "/projects/demo/gate/sync"}, 503, "sync demo: terok-gate does not answer (terok daemons status shows why)"},
		{"gate diff", withProj, req{method: "GET", path: Prefix + "/projects/demo/gate/diff?branch=agent/x"}, 200, `"head": "agent/x"`},
		{"gate diff without a branch", withProj, req{method: "GET", path: Prefix + "/projects/demo/gate/diff"}, 400, "?branch= is missing"},
		{"promote", withProj, req{method: "POST", path: Prefix + "/projects/demo/gate/promote", body: `{"branch": "agent/x", "target": "main"}`}, 200, `"commit": "3f0c1d2e"`},
		{"promote, the branch moved", func(f *fixture) string {
			f.project()
			f.gate.Set("Promote", &unixhttp.APIError{Status: 409, Message: "branch moved since it was reviewed: agent/x is now at 9a1b, not at 3f0c as reviewed"})
			return ""
		}, req{method: "POST", path: Prefix + "/projects/demo/gate/promote", body: `{"branch": "agent/x", "expect": "3f0c"}`}, 409, "branch moved since it was reviewed: agent/x is now at 9a1b"},
		{"promote, the upstream refused", func(f *fixture) string {
			f.must(req{method: "POST", path: Prefix + "/projects", body: `{"name": "demo", "git": {"upstream_url": "https://example.org/x.git"}}`}, 201)
			f.gate.Set("Promote", &unixhttp.APIError{Status: 502, Message: "upstream failed: push https://example.org/x.git: 403"})
			return ""
		}, req{method: "POST", path: Prefix + "/projects/demo/gate/promote", body: `{"branch": "agent/x"}`}, 502,
			"terok-gate could not use the upstream of project demo, https://example.org/x.git (address example.org:443): upstream failed: push https://example.org/x.git: 403"},
		{"promote nothing", withProj, req{method: "POST", path: Prefix + "/projects/demo/gate/promote", body: `{}`}, 400, "no branch to promote"},

		{"tasks", runningOne, req{method: "GET", path: Prefix + "/tasks?project=demo"}, 200, `"state": "running"`},
		{"tasks of a missing project", noTask, req{method: "GET", path: Prefix + "/tasks?project=nosuch"}, 404, "no such project: nosuch"},
		{"run", withProj, req{method: "POST", path: Prefix + "/tasks", body: `{"project": "demo"}`}, 201, `"state": "running"`},
		{"run in an unknown mode", withProj, req{method: "POST", path: Prefix + "/tasks", body: `{"project": "demo", "mode": "turbo"}`}, 400, `mode "turbo": use headless, interactive or web`},
		{"run a missing project", noTask, req{method: "POST", path: Prefix + "/tasks", body: `{"project": "nosuch"}`}, 404, "no such project: nosuch"},
		{"run without the image", func(f *fixture) string { f.project(); f.pm.NoImage = true; return "" },
			req{method: "POST", path: Prefix + "/tasks", body: `{"project": "demo"}`}, 422, "failed to start: image missing: image localhost/terok-base:latest is not in Podman's store: make task-image builds it"},
		{"run, Podman refuses the start", func(f *fixture) string {
			f.project()
			f.pm.Set("StartContainer", &unixhttp.APIError{Status: 500, Message: "error executing hook: armed nothing"})
			return ""
		}, req{method: "POST", path: Prefix + "/tasks", body: `{"project": "demo"}`}, 502, "start the task container: podman: error executing hook: armed nothing (a failing OCI hook is the shield's"},
		{"run a web task without TCP", func(f *fixture) string {
			f.must(req{method: "POST", path: Prefix + "/projects", body: `{"name": "demo", "agent": {"command": "x"}, "run": {"web_port": 8080}}`}, 201)
			return ""
		}, req{method: "POST", path: Prefix + "/tasks", body: `{"project": "demo", "mode": "web"}`}, 400, "web mode needs terok-web's TCP listener"},
		{"show a task", runningOne, req{method: "GET", path: Prefix + "/tasks/{task}"}, 200, `"project": "demo"`},
		{"show a missing task", noTask, req{method: "GET", path: Prefix + "/tasks/abcdef"}, 404, "no such task: abcdef"},
		{"show a bad id", noTask, req{method: "GET", path: Prefix + "/tasks/ABC"}, 400, `task id "ABC": a task id is 6 characters of a-z and 2-9`},
		{"remove a running task", runningOne, req{method: "DELETE", path: Prefix + "/tasks/{task}"}, 409, "stop it first (terok task stop"},
		{"remove with force", runningOne, req{method: "DELETE", path: Prefix + "/tasks/{task}?force=1"}, 200, `"removed"`},
		{"remove, force garbled", runningOne, req{method: "DELETE", path: Prefix + "/tasks/{task}?force=yes-please"}, 400, `force="yes-please": give 1 or 0`},
		{"logs", endedOne, req{method: "GET", path: Prefix + "/tasks/{task}/logs"}, 200, "agent says hi"},
		{"logs, tail not a number", endedOne, req{method: "GET", path: Prefix + "/tasks/{task}/logs?tail=all"}, 400, `tail="all": give a whole number`},
		{"logs, tail negative", endedOne, req{method: "GET", path: Prefix + "/tasks/{task}/logs?tail=-5"}, 400, "tail=-5: give a number of lines, 0 or more"},
		{"logs, follow garbled", endedOne, req{method: "GET", path: Prefix + "/tasks/{task}/logs?follow=please"}, 400, `follow="please": give 1 or 0`},
		{"logs of a missing task", noTask, req{method: "GET", path: Prefix + "/tasks/abcdef/logs"}, 404, "no such task: abcdef"},
		{"wait", endedOne, req{method: "GET", path: Prefix + "/tasks/{task}/wait"}, 200, `"state": "exited"`},
		{"stop", runningOne, req{method: "POST", path: Prefix + "/tasks/{task}/stop"}, 200, `"state": "stopped"`},
		{"stop, Podman refuses", func(f *fixture) string {
			f.project()
			id := f.running().ID
			f.pm.Set("StopContainer", &unixhttp.APIError{Status: 500, Message: "stop failed"})
			return id
		}, req{method: "POST", path: Prefix + "/tasks/{task}/stop"}, 502, "stop the task container: podman: stop failed"},
		{"restart", endedOne, req{method: "POST", path: Prefix + "/tasks/{task}/restart"}, 200, `"runs": 2`},
		{"follow-up", endedOne, req{method: "POST", path: Prefix + "/tasks/{task}/followup", body: `{"prompt": "more"}`}, 200, `"prompt": "more"`},
		{"follow-up while running", runningOne, req{method: "POST", path: Prefix + "/tasks/{task}/followup", body: `{"prompt": "more"}`}, 409, "wait for it to end (terok task wait"},
		{"timeline", endedOne, req{method: "GET", path: Prefix + "/tasks/{task}/timeline"}, 200, `"state": "exited"`},
		{"attach without a WebSocket", runningOne, req{method: "GET", path: Prefix + "/tasks/{task}/attach"}, 400, "attach needs a WebSocket upgrade"},
		{"attach an ended task", endedOne, req{method: "GET", path: Prefix + "/tasks/{task}/attach",
			header: map[string]string{"Upgrade": "websocket", "Connection": "Upgrade"}}, 409, "is exited: it does not run"},
		{"attach from another origin", runningOne, req{method: "GET", path: Prefix + "/tasks/{task}/attach",
			header: map[string]string{"Upgrade": "websocket", "Connection": "Upgrade", "Origin": "http://evil.example"}}, 403, "only terok's own pages open terminals"},
		{"ticket for a headless task", runningOne, req{method: "POST", path: Prefix + "/tasks/{task}/web/ticket"}, 409, "web mode needs terok-web's TCP listener"},

		{"shield", runningOne, req{method: "GET", path: Prefix + "/tasks/{task}/shield"}, 200, `"mode": "up"`},
		{"shield of an ended task", endedOne, req{method: "GET", path: Prefix + "/tasks/{task}/shield"}, 409, "the shield only guards running tasks: task"},
		{"allow", runningOne, req{method: "POST", path: Prefix + "/tasks/{task}/shield/allow", body: `{"target": "api.example.org", "for": "10m"}`}, 200, `"mode"`},
		{"deny", runningOne, req{method: "POST", path: Prefix + "/tasks/{task}/shield/deny", body: `{"target": "198.51.100.7"}`}, 200, `"mode"`},
		{"mode", runningOne, req{method: "POST", path: Prefix + "/tasks/{task}/shield/mode", body: `{"mode": "down"}`}, 200, `"mode": "down"`},
		{"mode unknown", runningOne, req{method: "POST", path: Prefix + "/tasks/{task}/shield/mode", body: `{"mode": "sideways"}`}, 400, `mode "sideways": use up, down or block`},
		{"audit", endedOne, req{method: "GET", path: Prefix + "/tasks/{task}/shield/audit"}, 200, `"kind":"armed"`},
		{"audit, follow garbled", endedOne, req{method: "GET", path: Prefix + "/tasks/{task}/shield/audit?follow=x"}, 400, `follow="x"`},
		{"audit, shield down", func(f *fixture) string {
			f.project()
			id := f.ended().ID
			f.sh.Set("Audit", fakedaemons.Down("/run/terok/shield.sock"))
			return id
		}, req{method: "GET", path: Prefix + "/tasks/{task}/shield/audit"}, 503, "terok-shield does not answer"},
		{"panic", noTask, req{method: "POST", path: Prefix + "/shield/panic"}, 200, `{`},
		{"panic, shield down", func(f *fixture) string { f.sh.Set("Panic", fakedaemons.Down("/run/terok/shield.sock")); return "" },
			req{method: "POST", path: Prefix + "/shield/panic"}, 503, "terok-shield does not answer"},
		{"profiles", noTask, req{method: "GET", path: Prefix + "/shield/profiles"}, 200, `"base"`},

		{"images", noTask, req{method: "GET", path: Prefix + "/images"}, 200, `"localhost/terok-base:latest"`},
		{"import", noTask, req{method: "POST", path: Prefix + "/images?name=localhost/mine:1", body: rootfs()}, 201, `"sha256:imported"`},
		{"import without a name", noTask, req{method: "POST", path: Prefix + "/images", body: rootfs()}, 400, `image name "": give the image name`},
		{"import something else", noTask, req{method: "POST", path: Prefix + "/images?name=localhost/mine:1", body: "hello"}, 400, "not a root filesystem"},

		{"daemons", noTask, req{method: "GET", path: Prefix + "/daemons"}, 200, `"problem": "no upstream reachable"`},
		{"restart a daemon", noTask, req{method: "POST", path: Prefix + "/daemons/terok-gate/restart"}, 200, `"action": "restart"`},
		{"restart a stopped daemon", noTask, req{method: "POST", path: Prefix + "/daemons/terok-vault/restart"}, 200, `"action": "restart"`},
		{"a daemon that does not exist", noTask, req{method: "POST", path: Prefix + "/daemons/nope/start"}, 404, "start nope: terok-supervisord: "},
		{"a daemon action that does not exist", noTask, req{method: "POST", path: Prefix + "/daemons/terok-gate/reboot"}, 400, `action "reboot": use start, stop or restart`},
		{"daemon log", noTask, req{method: "GET", path: Prefix + "/daemons/terok-gate/log?bytes=100"}, 200, "admin token: secret-token-0123456789"},
		{"daemon log over TCP", noTask, req{method: "GET", path: Prefix + "/daemons/terok-gate/log", via: auth.ViaBearer}, 200, "admin token: [redacted]"},
		{"daemon log, bytes garbled", noTask, req{method: "GET", path: Prefix + "/daemons/terok-gate/log?bytes=lots"}, 400, `bytes="lots": give a whole number`},
		{"daemon log, bytes too many", noTask, req{method: "GET", path: Prefix + "/daemons/terok-gate/log?bytes=999999999"}, 400, "bytes 999999999: give 1-67108864"},
		{"supervisor down", func(f *fixture) string {
			f.sup.Set("AllProcessInfo", fakedaemons.Down("/run/terok/supervisor.sock"))
			return ""
		},
			req{method: "GET", path: Prefix + "/daemons"}, 503, "terok-supervisord does not answer"},

		{"events from another origin", noTask, req{method: "GET", path: Prefix + "/events", header: map[string]string{"Origin": "http://evil.example"}}, 403, "only for terok's own pages"},
		{"login URL", noTask, req{method: "GET", path: Prefix + "/web/url"}, 200, loginURL},
		{"login URL to a browser", noTask, req{method: "GET", path: Prefix + "/web/url", via: auth.ViaCookie}, 403, "it is only given to the bearer token or web.sock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			id := tc.setup(f)
			tc.r.path = strings.ReplaceAll(tc.r.path, "{task}", id)
			w := f.do(tc.r)
			if w.Code != tc.status {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, tc.status)
			}
			body := w.Body.String()
			if tc.status >= 400 {
				body = errorOf(t, body)
			}
			if !strings.Contains(body, tc.want) {
				t.Fatalf("the answer lacks %q:\n%s", tc.want, body)
			}
			if strings.Contains(body, "secret-token") && tc.r.via != "" {
				t.Fatalf("a secret reached a caller over TCP:\n%s", body)
			}
		})
	}
}

// TestPromoteNotedInTimelines: a promotion lands in the timeline of the
// task that pushed the branch, and only there.
func TestPromoteNotedInTimelines(t *testing.T) {
	f := newFixture(t)
	f.project()
	pushed, other := f.ended(), f.ended()
	if _, err := f.store.Update(pushed.ID, func(r *tasks.Record) { r.Branches = []string{"agent/x"} }); err != nil {
		t.Fatal(err)
	}
	f.must(req{method: "POST", path: Prefix + "/projects/demo/gate/promote", body: `{"branch": "agent/x", "target": "main"}`}, 200)
	has := func(id string) bool {
		es, _ := f.tasks.Timeline(id)
		for _, e := range es {
			if e.Kind == webapi.EntryPromote && e.Ref == "main" && e.New == "3f0c1d2e" {
				return true
			}
		}
		return false
	}
	if !has(pushed.ID) || has(other.ID) {
		t.Fatalf("promotion noted in %s: %v, in %s: %v", pushed.ID, has(pushed.ID), other.ID, has(other.ID))
	}
}

// TestRestartRunsStopThenStart: restarting a daemon stops it and starts
// it again; one that was not running is started (the supervisor's
// NOT_RUNNING, matched as a fault, not by its text).
func TestRestartRunsStopThenStart(t *testing.T) {
	f := newFixture(t)
	f.must(req{method: "POST", path: Prefix + "/daemons/terok-gate/restart"}, 200)
	f.must(req{method: "POST", path: Prefix + "/daemons/terok-vault/restart"}, 200)
	f.sup.Set("Stop", errors.New("NOT_RUNNING in a message is no fault"))
	w := f.do(req{method: "POST", path: Prefix + "/daemons/terok-gate/restart"})
	if w.Code != 500 {
		t.Fatalf("a plain error with the word in it: %d %s", w.Code, w.Body)
	}
	if got := strings.Join(f.sup.Calls, ", "); got != "stop terok-gate, start terok-gate, stop terok-vault, start terok-vault" {
		t.Fatalf("calls: %s", got)
	}
}

// TestFollowEndsWithTheTask: a log that follows a running task streams
// its output and ends once the task ends, without polling.
func TestFollowEndsWithTheTask(t *testing.T) {
	f := newFixture(t)
	f.project()
	task := f.running()
	done := make(chan string, 1)
	go func() { done <- f.must(req{method: "GET", path: Prefix + "/tasks/" + task.ID + "/logs?follow=1"}, 200) }()
	select {
	case body := <-done:
		t.Fatalf("the follower ended while the task runs: %q", body)
	case <-time.After(100 * time.Millisecond): // a bound for the wrong outcome only
	}
	f.pm.Exit(task.Container, 0)
	select {
	case body := <-done:
		if body != "agent says hi\n" {
			t.Fatalf("followed %q", body)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the follower did not end with the task")
	}
}
