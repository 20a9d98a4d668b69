package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/kit/buildinfo"
	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/attach"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/auth"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/events"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/projects"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/runner"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/webproxy"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// Prefix is the root of every route.
const Prefix = "/api/v1"

// Deps are what the API serves from.
type Deps struct {
	Log        zerolog.Logger
	Projects   *projects.Store
	Runner     *runner.Runner
	Hub        *events.Hub
	Gate       Gate
	Shield     Shield
	Images     Images
	Supervisor Supervisor
	// GateHostURL is the gate's base URL for the host, e.g.
	// http://127.0.0.1:9418 (clone URLs shown to users).
	GateHostURL string
	// Origins are the origins allowed as a WebSocket's Origin besides the
	// request's own (TEROK_PUBLIC_URL's).
	Origins []auth.Origin
	// Probe reports the daemons terok-web depends on, for health.
	Probe health.Probe
	// LoginURL is the browser login URL with the token ("" without TCP).
	LoginURL string
	// Exec runs terminals in task containers (Podman's exec API).
	Exec attach.Execer
	// Tickets are the one-time passes to web tasks' UIs (nil: no web
	// tasks).
	Tickets *webproxy.Tickets
	// Addresses says where browsers reach task UIs (nil: no web tasks).
	Addresses *webproxy.Addresses
	// Secrets are strings never shown in a daemon's log over TCP (the
	// access token, the gate's admin token when terok-web knows it).
	Secrets []string
	// DaemonProblem returns what a running supervisor program's health
	// check says is wrong ("" when fine or not a daemon); nil: not asked.
	DaemonProblem func(ctx context.Context, program string) string
}

// API is the HTTP handler.
type API struct {
	d   Deps
	mux *http.ServeMux
	h   http.Handler
}

// New builds the handler.
func New(d Deps) *API {
	a := &API{d: d, mux: http.NewServeMux()}
	m := a.mux
	m.Handle("GET "+health.Path, health.Handler("terok-web", buildinfo.Version, d.Probe))
	m.Handle("GET "+Prefix+"/health", health.Handler("terok-web", buildinfo.Version, d.Probe))

	m.HandleFunc("GET "+Prefix+"/projects", a.listProjects)
	m.HandleFunc("POST "+Prefix+"/projects", a.createProject)
	m.HandleFunc("GET "+Prefix+"/projects/{name}", a.getProject)
	m.HandleFunc("PUT "+Prefix+"/projects/{name}", a.putProject)
	m.HandleFunc("DELETE "+Prefix+"/projects/{name}", a.deleteProject)

	m.HandleFunc("GET "+Prefix+"/projects/{name}/gate", a.gateInfo)
	m.HandleFunc("GET "+Prefix+"/projects/{name}/gate/log", a.gateLog)
	m.HandleFunc("POST "+Prefix+"/projects/{name}/gate/sync", a.gateSync)
	m.HandleFunc("GET "+Prefix+"/projects/{name}/gate/diff", a.gateDiff) // gatediff.go
	m.HandleFunc("POST "+Prefix+"/projects/{name}/gate/promote", a.gatePromote)

	m.HandleFunc("GET "+Prefix+"/tasks", a.listTasks)
	m.HandleFunc("POST "+Prefix+"/tasks", a.runTask)
	m.HandleFunc("GET "+Prefix+"/tasks/{id}", a.getTask)
	m.HandleFunc("DELETE "+Prefix+"/tasks/{id}", a.removeTask)
	m.HandleFunc("GET "+Prefix+"/tasks/{id}/logs", a.taskLogs)
	m.HandleFunc("GET "+Prefix+"/tasks/{id}/wait", a.waitTask)
	m.HandleFunc("POST "+Prefix+"/tasks/{id}/stop", a.stopTask)
	m.HandleFunc("POST "+Prefix+"/tasks/{id}/restart", a.restartTask)
	m.HandleFunc("POST "+Prefix+"/tasks/{id}/followup", a.followupTask)
	m.HandleFunc("GET "+Prefix+"/tasks/{id}/timeline", a.timeline)
	if d.Exec != nil {
		m.Handle("GET "+Prefix+"/tasks/{id}/attach", attach.Handler(d.Exec, a.attachTarget,
			attach.Options{Log: d.Log, Origin: a.originOK}))
	}
	m.HandleFunc("POST "+Prefix+"/tasks/{id}/web/ticket", a.webTicket)

	m.HandleFunc("GET "+Prefix+"/tasks/{id}/shield", a.shieldStatus)
	m.HandleFunc("POST "+Prefix+"/tasks/{id}/shield/allow", a.shieldAllow)
	m.HandleFunc("POST "+Prefix+"/tasks/{id}/shield/deny", a.shieldDeny)
	m.HandleFunc("POST "+Prefix+"/tasks/{id}/shield/mode", a.shieldMode)
	m.HandleFunc("GET "+Prefix+"/tasks/{id}/shield/audit", a.shieldAudit)
	m.HandleFunc("POST "+Prefix+"/shield/panic", a.shieldPanic)
	m.HandleFunc("GET "+Prefix+"/shield/profiles", a.shieldProfiles)

	m.HandleFunc("GET "+Prefix+"/images", a.listImages)
	m.HandleFunc("POST "+Prefix+"/images", a.importImage)

	m.HandleFunc("GET "+Prefix+"/daemons", a.listDaemons)
	m.HandleFunc("POST "+Prefix+"/daemons/{name}/{action}", a.daemonAction)
	m.HandleFunc("GET "+Prefix+"/daemons/{name}/log", a.daemonLog)

	m.HandleFunc("GET "+Prefix+"/events", a.events)
	m.HandleFunc("GET "+Prefix+"/web/url", a.webURL)
	a.h = unixhttp.JSONErrors(m)
	return a
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.h.ServeHTTP(w, r) }

// writeErr answers err for people: its message without the HTTP status
// of another daemon's answer in it (the status line carries ours), and no
// detail (the messages say what to do themselves).
func writeErr(w http.ResponseWriter, status int, err error) {
	unixhttp.WriteErrorDetail(w, status, unixhttp.Message(err), "")
}

// fail maps err to its status and writes it.
func fail(w http.ResponseWriter, err error) {
	writeErr(w, statusOf(err), err)
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, projects.ErrNotFound), errors.Is(err, tasks.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, projects.ErrInvalid), errors.Is(err, tasks.ErrInvalidID), errors.Is(err, runner.ErrBadRequest), errors.Is(err, errBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, projects.ErrExists), errors.Is(err, runner.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, runner.ErrImageMissing):
		return http.StatusUnprocessableEntity
	case errors.Is(err, runner.ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, runner.ErrUpstream):
		return http.StatusBadGateway
	}
	if s := unixhttp.StatusOf(err); s >= 400 && s < 500 {
		return s
	} else if s >= 500 {
		return http.StatusBadGateway // another daemon answered with an error
	}
	if errors.Is(err, podmanapi.ErrNotFound) {
		return http.StatusNotFound
	}
	if errors.Is(err, unixhttp.ErrUnavailable) {
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

var errBadRequest = errors.New("bad request")

func decode(r *http.Request, v any) error {
	if err := unixhttp.DecodeJSON(r, 1<<20, v); err != nil {
		return fmt.Errorf("%w: %v", errBadRequest, err)
	}
	return nil
}

func ok(w http.ResponseWriter, v any) { unixhttp.WriteJSON(w, http.StatusOK, v) }

// unavailable wraps a daemon call's error with the daemon's name: one
// that did not answer is unavailable, one that answered with an error
// is named with its message.
func unavailable(daemon string, err error) error {
	if s := unixhttp.StatusOf(err); s >= 400 && s < 500 {
		return err
	} else if s >= 500 {
		return fmt.Errorf("%s: %w", daemon, err)
	}
	if errors.Is(err, podmanapi.ErrNotFound) || errors.Is(err, podmanapi.ErrConflict) {
		return err
	}
	return fmt.Errorf("%w: %s: %v (terok daemons status shows its state)", runner.ErrUnavailable, daemon, err)
}

// gateErr is the error of a gate call for project p: the upstream's
// failure (the gate answered 502) names the upstream, anything else the
// gate.
func gateErr(p webapi.ProjectInfo, err error) error {
	if unixhttp.StatusOf(err) == http.StatusBadGateway {
		return runner.UpstreamErr(p.Name, p.Git.UpstreamURL, err)
	}
	return unavailable("terok-gate", err)
}

// ---- projects

func (a *API) listProjects(w http.ResponseWriter, r *http.Request) {
	ps, err := a.d.Projects.List()
	if err != nil {
		fail(w, err)
		return
	}
	for i := range ps {
		ps[i] = hideEnv(r, ps[i])
	}
	ok(w, ps)
}

func (a *API) getProject(w http.ResponseWriter, r *http.Request) {
	p, err := a.d.Projects.Get(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	ok(w, hideEnv(r, p))
}

// HiddenValue stands for an agent.env value in a project shown to a
// browser session; sent back unchanged, it keeps the stored value.
const HiddenValue = "<hidden>"

// hideEnv replaces agent.env's values (API keys live there) for a browser
// session: a cookie-authenticated read never returns a secret.
func hideEnv(r *http.Request, p webapi.ProjectInfo) webapi.ProjectInfo {
	if auth.From(r).Via != auth.ViaCookie || len(p.Agent.Env) == 0 {
		return p
	}
	env := make(map[string]string, len(p.Agent.Env))
	for k := range p.Agent.Env {
		env[k] = HiddenValue
	}
	p.Agent.Env = env
	return p
}

// keepHidden puts the stored values back for HiddenValue entries.
func keepHidden(p *webapi.Project, stored map[string]string) {
	for k, v := range p.Agent.Env {
		if v == HiddenValue {
			if old, ok := stored[k]; ok {
				p.Agent.Env[k] = old
			} else {
				delete(p.Agent.Env, k)
			}
		}
	}
}

func (a *API) createProject(w http.ResponseWriter, r *http.Request) {
	var p webapi.Project
	if err := decode(r, &p); err != nil {
		fail(w, err)
		return
	}
	keepHidden(&p, nil)
	info, err := a.d.Projects.Create(p)
	if err != nil {
		fail(w, err)
		return
	}
	// The gate repository is made now, so the project can be cloned from
	// the host before its first task. The project is kept when the gate
	// cannot make it (down, upstream unreachable): the first task tries
	// again, and the answer says why.
	if err := a.d.Runner.EnsureGateRepo(r.Context(), info.Project); err != nil {
		info.Warnings = append(info.Warnings, "gate repository not created yet (the first task tries again): "+err.Error())
	}
	unixhttp.WriteJSON(w, http.StatusCreated, hideEnv(r, info))
}

func (a *API) putProject(w http.ResponseWriter, r *http.Request) {
	var p webapi.Project
	if err := decode(r, &p); err != nil {
		fail(w, err)
		return
	}
	name := r.PathValue("name")
	if p.Name == "" {
		p.Name = name
	}
	if p.Name != name {
		fail(w, fmt.Errorf("%w: the body names project %q, the path %q: a project cannot be renamed", errBadRequest, p.Name, name))
		return
	}
	cur, err := a.d.Projects.Get(name)
	if err != nil && errors.Is(err, projects.ErrNotFound) {
		fail(w, err)
		return
	}
	keepHidden(&p, cur.Agent.Env)
	info, err := a.d.Projects.Save(p)
	if err != nil {
		fail(w, err)
		return
	}
	ok(w, hideEnv(r, info))
}

func (a *API) deleteProject(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, err := a.d.Projects.Get(name); errors.Is(err, projects.ErrNotFound) || errors.Is(err, projects.ErrInvalid) && projects.ValidName(name) != nil {
		fail(w, err)
		return
	}
	for _, t := range a.d.Runner.Store().List(name) {
		if !webapi.Ended(t.State) {
			fail(w, fmt.Errorf("%w: project %s has task %s %s: stop it first", runner.ErrConflict, name, t.ID, t.State))
			return
		}
	}
	if err := a.d.Projects.Delete(name); err != nil {
		fail(w, err)
		return
	}
	ok(w, map[string]string{"deleted": name})
}

// ---- gate

func (a *API) project(w http.ResponseWriter, r *http.Request) (webapi.ProjectInfo, bool) {
	p, err := a.d.Projects.Get(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return p, false
	}
	return p, true
}

func (a *API) gateInfo(w http.ResponseWriter, r *http.Request) {
	p, good := a.project(w, r)
	if !good {
		return
	}
	d, err := a.d.Gate.Repo(r.Context(), p.Name)
	if err != nil {
		if unixhttp.StatusOf(err) == http.StatusNotFound {
			err = fmt.Errorf("%w: project %s has no gate repository yet: the first task creates it", projects.ErrNotFound, p.Name)
		}
		fail(w, unavailable("terok-gate", err))
		return
	}
	out := webapi.GateInfo{Project: p.Name, CloneURL: a.d.GateHostURL + "/" + p.Name + ".git",
		Upstream: d.Upstream, DefaultBranch: d.DefaultBranch, Branches: []webapi.Branch{}}
	for _, b := range d.Branches {
		out.Branches = append(out.Branches, webapi.Branch{Name: b.Name, Head: b.Head, Subject: b.Subject, When: b.When, Ahead: b.Ahead, Behind: b.Behind})
	}
	ok(w, out)
}

func (a *API) gateLog(w http.ResponseWriter, r *http.Request) {
	p, good := a.project(w, r)
	if !good {
		return
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	cs, err := a.d.Gate.Log(r.Context(), p.Name, r.URL.Query().Get("branch"), limit)
	if err != nil {
		fail(w, unavailable("terok-gate", err))
		return
	}
	ok(w, cs)
}

func (a *API) gateSync(w http.ResponseWriter, r *http.Request) {
	p, good := a.project(w, r)
	if !good {
		return
	}
	res, err := a.d.Gate.Sync(r.Context(), p.Name)
	if err != nil {
		fail(w, gateErr(p, err))
		return
	}
	ok(w, res)
}

func (a *API) gatePromote(w http.ResponseWriter, r *http.Request) {
	p, good := a.project(w, r)
	if !good {
		return
	}
	var req webapi.PromoteRequest
	if err := decode(r, &req); err != nil {
		fail(w, err)
		return
	}
	res, err := a.d.Gate.Promote(r.Context(), p.Name, gateapi.PromoteRequest{Branch: req.Branch, Target: req.Target, Force: req.Force, Expect: req.Expect})
	if err != nil {
		fail(w, gateErr(p, err))
		return
	}
	// The promotion goes into the timeline of the tasks that pushed it.
	for _, t := range a.d.Runner.Store().List(p.Name) {
		if slices.Contains(t.Branches, req.Branch) {
			a.d.Runner.Note(t, webapi.Entry{Kind: webapi.EntryPromote, Ref: res.Target, New: res.Commit, Detail: "promoted " + req.Branch + " to " + res.Target})
		}
	}
	ok(w, res)
}

// ---- tasks

func (a *API) task(w http.ResponseWriter, r *http.Request) (webapi.Task, bool) {
	t, err := a.d.Runner.Store().Get(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return t, false
	}
	return t, true
}

// withURL fills a web task's UI address (while its listener is open) for
// the caller: the host it reached terok by.
func (a *API) withURL(r *http.Request, t webapi.Task) webapi.Task {
	t.WebURL = ""
	if a.d.Addresses == nil || t.Mode != webapi.ModeWeb || webapi.Ended(t.State) {
		return t
	}
	if port, ok := a.d.Runner.HostPort(t.ID); ok {
		var req *http.Request
		if auth.From(r).Via != auth.ViaSocket {
			req = r
		}
		t.WebURL = a.d.Addresses.TaskURL(req, port)
	}
	return t
}

// okTask answers one task with its UI address.
func (a *API) okTask(w http.ResponseWriter, r *http.Request, status int, t webapi.Task) {
	unixhttp.WriteJSON(w, status, a.withURL(r, t))
}

func (a *API) listTasks(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query().Get("project")
	if p != "" {
		if _, err := a.d.Projects.Get(p); err != nil && len(a.d.Runner.Store().List(p)) == 0 {
			fail(w, err)
			return
		}
	}
	ts := a.d.Runner.Store().List(p)
	for i := range ts {
		ts[i] = a.withURL(r, ts[i])
	}
	ok(w, ts)
}

func (a *API) getTask(w http.ResponseWriter, r *http.Request) {
	if t, good := a.task(w, r); good {
		a.okTask(w, r, http.StatusOK, t)
	}
}

func (a *API) runTask(w http.ResponseWriter, r *http.Request) {
	var req webapi.RunRequest
	if err := decode(r, &req); err != nil {
		fail(w, err)
		return
	}
	t, err := a.d.Runner.Run(r.Context(), req)
	if err != nil {
		if t.ID != "" {
			err = fmt.Errorf("task %s failed to start: %w", t.ID, err)
		}
		fail(w, err)
		return
	}
	a.okTask(w, r, http.StatusCreated, t)
}

func (a *API) followupTask(w http.ResponseWriter, r *http.Request) {
	var req webapi.FollowupRequest
	if err := decode(r, &req); err != nil {
		fail(w, err)
		return
	}
	t, err := a.d.Runner.Followup(r.Context(), r.PathValue("id"), req)
	if err != nil {
		fail(w, err)
		return
	}
	a.okTask(w, r, http.StatusOK, t)
}

func (a *API) restartTask(w http.ResponseWriter, r *http.Request) {
	t, err := a.d.Runner.Restart(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	a.okTask(w, r, http.StatusOK, t)
}

func (a *API) stopTask(w http.ResponseWriter, r *http.Request) {
	t, err := a.d.Runner.Stop(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	a.okTask(w, r, http.StatusOK, t)
}

func (a *API) waitTask(w http.ResponseWriter, r *http.Request) {
	t, err := a.d.Runner.WaitEnded(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	a.okTask(w, r, http.StatusOK, t)
}

func (a *API) removeTask(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	force := r.URL.Query().Get("force") == "1" || r.URL.Query().Get("force") == "true"
	if err := a.d.Runner.Remove(r.Context(), id, force); err != nil {
		fail(w, err)
		return
	}
	ok(w, map[string]string{"removed": id})
}

func (a *API) timeline(w http.ResponseWriter, r *http.Request) {
	es, err := a.d.Runner.Store().Timeline(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	ok(w, es)
}

// taskLogs serves the log file: ?tail=N for the last N lines, ?follow=1 to
// keep streaming until the task ends.
func (a *API) taskLogs(w http.ResponseWriter, r *http.Request) {
	t, good := a.task(w, r)
	if !good {
		return
	}
	q := r.URL.Query()
	tail := -1
	if s := q.Get("tail"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			fail(w, fmt.Errorf("%w: tail=%q: give a number of lines", errBadRequest, s))
			return
		}
		tail = n
	}
	follow := q.Get("follow") == "1" || q.Get("follow") == "true"
	path := a.d.Runner.Store().LogPath(t)
	f, err := os.Open(path)
	if err != nil && !os.IsNotExist(err) {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	var off int64
	if f != nil {
		defer f.Close()
		if tail >= 0 {
			off = tailOffset(f, tail)
		}
		off += copyFrom(w, f, off)
	}
	_ = rc.Flush()
	if !follow {
		return
	}
	for i := 0; ; i++ {
		cur, err := a.d.Runner.Store().Get(t.ID)
		ended := err != nil || webapi.Ended(cur.State)
		if f == nil {
			if f, _ = os.Open(path); f != nil {
				defer f.Close()
			}
		}
		if f != nil {
			n := copyFrom(w, f, off)
			off += n
			if n > 0 {
				_ = rc.Flush()
			}
		}
		if ended {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(150 * time.Millisecond):
		}
	}
}

func copyFrom(w io.Writer, f *os.File, off int64) int64 {
	n, _ := io.Copy(w, io.NewSectionReader(f, off, 1<<62))
	return n
}

// tailOffset returns where the last n lines of f start.
func tailOffset(f *os.File, n int) int64 {
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	size := st.Size()
	if n == 0 {
		return size
	}
	pos := size
	buf := make([]byte, 64<<10)
	lines := 0
	// A final newline ends the last line rather than starting another.
	if size > 0 {
		b := make([]byte, 1)
		if _, err := f.ReadAt(b, size-1); err == nil && b[0] == '\n' {
			pos--
		}
	}
	for pos > 0 {
		k := int64(len(buf))
		if pos < k {
			k = pos
		}
		if _, err := f.ReadAt(buf[:k], pos-k); err != nil {
			return 0
		}
		for i := k - 1; i >= 0; i-- {
			if buf[i] == '\n' {
				lines++
				if lines == n {
					return pos - k + i + 1
				}
			}
		}
		pos -= k
	}
	return 0
}

// ---- shield

func (a *API) runningContainer(w http.ResponseWriter, r *http.Request) (webapi.Task, bool) {
	t, good := a.task(w, r)
	if !good {
		return t, false
	}
	if t.Container == "" || webapi.Ended(t.State) {
		fail(w, fmt.Errorf("%w: task %s is %s: the shield only guards running tasks", runner.ErrConflict, t.ID, t.State))
		return t, false
	}
	return t, true
}

func (a *API) shieldStatus(w http.ResponseWriter, r *http.Request) {
	t, good := a.runningContainer(w, r)
	if !good {
		return
	}
	st, err := a.d.Shield.Status(r.Context(), t.Container)
	if err != nil {
		fail(w, unavailable("terok-shield", err))
		return
	}
	ok(w, st)
}

func (a *API) shieldAllow(w http.ResponseWriter, r *http.Request) {
	t, good := a.runningContainer(w, r)
	if !good {
		return
	}
	var req webapi.AllowRequest
	if err := decode(r, &req); err != nil {
		fail(w, err)
		return
	}
	st, err := a.d.Shield.Allow(r.Context(), t.Container, req.Target, req.For)
	if err != nil {
		fail(w, unavailable("terok-shield", err))
		return
	}
	ok(w, st)
}

func (a *API) shieldDeny(w http.ResponseWriter, r *http.Request) {
	t, good := a.runningContainer(w, r)
	if !good {
		return
	}
	var req webapi.AllowRequest
	if err := decode(r, &req); err != nil {
		fail(w, err)
		return
	}
	st, err := a.d.Shield.Deny(r.Context(), t.Container, req.Target)
	if err != nil {
		fail(w, unavailable("terok-shield", err))
		return
	}
	ok(w, st)
}

func (a *API) shieldMode(w http.ResponseWriter, r *http.Request) {
	t, good := a.runningContainer(w, r)
	if !good {
		return
	}
	var req webapi.ModeRequest
	if err := decode(r, &req); err != nil {
		fail(w, err)
		return
	}
	m := shieldapi.Mode(req.Mode)
	if !m.Valid() {
		fail(w, fmt.Errorf("%w: mode %q: use up, down or block (open or block for a task without the shield)", errBadRequest, req.Mode))
		return
	}
	st, err := a.d.Shield.SetMode(r.Context(), t.Container, m)
	if err != nil {
		fail(w, unavailable("terok-shield", err))
		return
	}
	ok(w, st)
}

// shieldAudit streams the task's shield events as JSON lines.
func (a *API) shieldAudit(w http.ResponseWriter, r *http.Request) {
	t, good := a.task(w, r)
	if !good {
		return
	}
	if t.Container == "" {
		fail(w, fmt.Errorf("%w: task %s never had a container", runner.ErrConflict, t.ID))
		return
	}
	follow := r.URL.Query().Get("follow") == "1" || r.URL.Query().Get("follow") == "true"
	started := false
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	err := a.d.Shield.Audit(r.Context(), t.Container, follow, func(ev shieldapi.Event) error {
		if !started {
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.WriteHeader(http.StatusOK)
			started = true
		}
		if err := enc.Encode(ev); err != nil {
			return err
		}
		return rc.Flush()
	})
	if !started {
		if err != nil {
			fail(w, unavailable("terok-shield", err))
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
	}
}

func (a *API) shieldPanic(w http.ResponseWriter, r *http.Request) {
	res, err := a.d.Shield.Panic(r.Context())
	if err != nil {
		fail(w, unavailable("terok-shield", err))
		return
	}
	ok(w, res)
}

func (a *API) shieldProfiles(w http.ResponseWriter, r *http.Request) {
	res, err := a.d.Shield.Profiles(r.Context())
	if err != nil {
		fail(w, unavailable("terok-shield", err))
		return
	}
	ok(w, res)
}

// ---- images

func (a *API) listImages(w http.ResponseWriter, r *http.Request) {
	ims, err := a.d.Images.ListImages(r.Context())
	if err != nil {
		fail(w, unavailable("podman", err))
		return
	}
	out := []webapi.Image{}
	for _, im := range ims {
		out = append(out, webapi.Image{ID: im.ID, Names: im.RepoTags, Size: im.Size, Created: im.Created})
	}
	ok(w, out)
}

// importImage takes a root filesystem tarball as the body: ?name=REF.
func (a *API) importImage(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" || strings.ContainsAny(name, " \t\n") {
		fail(w, fmt.Errorf("%w: ?name=%q: give the image name, e.g. localhost/mine:latest", errBadRequest, name))
		return
	}
	// A task of this image started meanwhile waits for the import.
	defer a.d.Runner.BeginImport(name)()
	// Spool the upload so it can be checked before Podman sees it.
	f, err := os.CreateTemp("", "terok-import-*.tar")
	if err != nil {
		fail(w, err)
		return
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := io.Copy(f, r.Body); err != nil {
		fail(w, fmt.Errorf("%w: read the tarball: %v", errBadRequest, err))
		return
	}
	if _, err := f.Seek(0, 0); err != nil {
		fail(w, err)
		return
	}
	if err := podmanapi.CheckRootfs(f); err != nil {
		fail(w, fmt.Errorf("%w: %v", errBadRequest, err))
		return
	}
	if _, err := f.Seek(0, 0); err != nil {
		fail(w, err)
		return
	}
	old := ""
	if ims, err := a.d.Images.ListImages(r.Context()); err == nil {
		for _, im := range ims {
			if slices.Contains(im.RepoTags, name) {
				old = im.ID
			}
		}
	}
	id, err := a.d.Images.ImportImage(r.Context(), name, f)
	if err != nil {
		fail(w, unavailable("podman", err))
		return
	}
	// The image the name pointed to is left without a name: remove it
	// unless a container still uses it.
	bare := func(s string) string { return strings.TrimPrefix(s, "sha256:") }
	if old != "" && bare(old) != bare(id) {
		_ = a.d.Images.RemoveImage(r.Context(), old, false)
	}
	unixhttp.WriteJSON(w, http.StatusCreated, webapi.Image{ID: id, Names: []string{name}})
}

// ---- daemons

func (a *API) listDaemons(w http.ResponseWriter, r *http.Request) {
	ps, err := a.d.Supervisor.AllProcessInfo(r.Context())
	if err != nil {
		fail(w, unavailable("terok-supervisord", err))
		return
	}
	out := make([]webapi.Daemon, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		out[i] = webapi.Daemon{Name: p.Name, State: p.StateName, PID: p.PID, Description: p.Description, ExitStatus: p.ExitStatus}
		if a.d.DaemonProblem != nil && p.StateName == "RUNNING" {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
				defer cancel()
				out[i].Problem = a.d.DaemonProblem(ctx, p.Name)
			}()
		}
	}
	wg.Wait()
	ok(w, out)
}

func (a *API) daemonAction(w http.ResponseWriter, r *http.Request) {
	name, action := r.PathValue("name"), r.PathValue("action")
	ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
	defer cancel()
	var err error
	switch action {
	case "start":
		err = a.d.Supervisor.Start(ctx, name, true)
	case "stop":
		err = a.d.Supervisor.Stop(ctx, name, true)
	case "restart":
		if err = a.d.Supervisor.Stop(ctx, name, true); err == nil || strings.Contains(err.Error(), "NOT_RUNNING") {
			err = a.d.Supervisor.Start(ctx, name, true)
		}
	default:
		fail(w, fmt.Errorf("%w: action %q: use start, stop or restart", errBadRequest, action))
		return
	}
	if err != nil {
		fail(w, fmt.Errorf("%s %s: %w", action, name, err))
		return
	}
	ok(w, map[string]string{"daemon": name, "action": action})
}

func (a *API) daemonLog(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("bytes"))
	if n <= 0 {
		n = 16 << 10
	}
	s, err := a.d.Supervisor.ReadStdout(r.Context(), r.PathValue("name"), n)
	if err != nil {
		fail(w, unavailable("terok-supervisord", err))
		return
	}
	if auth.From(r).Via != auth.ViaSocket {
		// Over TCP a log is never a way to a secret (web.sock's callers
		// can read the log files anyway).
		s = Redact(s, a.d.Secrets...)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	io.WriteString(w, s)
}

// attachTarget picks the running container of the task to attach to;
// ?cmd= runs that command (with sh -c) instead of a login shell.
func (a *API) attachTarget(w http.ResponseWriter, r *http.Request) (attach.Target, bool) {
	t, good := a.runningContainer(w, r)
	if !good {
		return attach.Target{}, false
	}
	tg := attach.Target{ContainerID: t.Container, WorkingDir: "/workspace"}
	if c := r.URL.Query().Get("cmd"); c != "" {
		tg.Cmd = []string{"sh", "-c", c}
	}
	return tg, true
}

// webURL answers the login URL, which holds the token: only to callers
// that have it already (web.sock, the bearer token), never to a browser
// session.
func (a *API) webURL(w http.ResponseWriter, r *http.Request) {
	if auth.From(r).Via == auth.ViaCookie {
		unixhttp.WriteErrorDetail(w, http.StatusForbidden, "the login URL holds the access token: it is only given to the bearer token or web.sock (terok web url)", "forbidden")
		return
	}
	if a.d.LoginURL == "" {
		fail(w, fmt.Errorf("%w: terok-web has no TCP listener (TEROK_WEB_LISTEN is off)", runner.ErrConflict))
		return
	}
	ok(w, map[string]string{"url": a.d.LoginURL})
}

// originOK checks a WebSocket's Origin: the request's own origin or one
// of Deps.Origins, scheme, host and port exactly.
func (a *API) originOK(r *http.Request) bool { return auth.SameOrigin(r, a.d.Origins...) }

// webTicket mints a one-time pass to a running web task's UI and answers
// its address with the pass.
func (a *API) webTicket(w http.ResponseWriter, r *http.Request) {
	t, good := a.task(w, r)
	if !good {
		return
	}
	if a.d.Tickets == nil || a.d.Addresses == nil {
		fail(w, fmt.Errorf("%w: web mode needs terok-web's TCP listener (TEROK_WEB_LISTEN is off)", runner.ErrConflict))
		return
	}
	if t.Mode != webapi.ModeWeb {
		fail(w, fmt.Errorf("%w: task %s is a %s task: only web tasks have a UI", runner.ErrConflict, t.ID, t.Mode))
		return
	}
	t = a.withURL(r, t)
	if t.WebURL == "" {
		fail(w, fmt.Errorf("%w: task %s is %s: its UI is open only while it runs", runner.ErrConflict, t.ID, t.State))
		return
	}
	id := auth.From(r)
	tk, exp, err := a.d.Tickets.Mint(t.ID, id.Session)
	if err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	ok(w, webapi.WebTicket{URL: t.WebURL + "?" + webproxy.TicketParam + "=" + tk, Expires: exp.UTC()})
}
