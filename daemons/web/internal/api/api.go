package api

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/kit/buildinfo"
	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/attach"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/auth"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/daemons"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/egress"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/events"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/images"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/overview"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/projects"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/recipes"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/review"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/runner"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/secrets"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/webproxy"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// Prefix is the root of every route.
const Prefix = "/api/v1"

// Deps are the services the API translates to and from HTTP.
type Deps struct {
	Log      zerolog.Logger
	Projects *projects.Service
	Tasks    *runner.Runner
	Review   *review.Service
	Egress   *egress.Service
	Images   *images.Service
	// Recipes are the agent recipes (terok agents list).
	Recipes recipes.Store
	Daemons *daemons.Service
	// Overview is the first screen's content (nil: no overview route).
	Overview *overview.Service
	Hub      *events.Hub
	// Secrets are the vault's credentials (nil: answered as no vault).
	Secrets *secrets.Service
	// Origins are the origins allowed as a WebSocket's Origin besides the
	// request's own (TEROK_PUBLIC_URL's).
	Origins []auth.Origin
	// Probe reports the daemons terok-web depends on, for health.
	Probe health.Probe
	// LoginURL is the browser login URL with the token ("" without TCP).
	LoginURL string
	// Exec runs terminals in task containers (Podman's exec API; nil: no
	// attach route).
	Exec attach.Execer
	// Tickets are the one-time passes to web tasks' UIs (nil: no web
	// tasks).
	Tickets *webproxy.Tickets
	// Addresses says where browsers reach task UIs (nil: no web tasks).
	Addresses *webproxy.Addresses
}

// API is the HTTP handler. Its handlers decode a request, call one
// service and encode the answer; the rules are the services'.
type API struct {
	d Deps
	h http.Handler
}

// New builds the handler.
func New(d Deps) *API {
	a := &API{d: d}
	m := http.NewServeMux()
	m.Handle("GET "+health.Path, health.Handler("terok-web", buildinfo.Version, d.Probe))
	m.Handle("GET "+Prefix+"/health", health.Handler("terok-web", buildinfo.Version, d.Probe))

	m.HandleFunc("GET "+Prefix+"/projects", call(200, a.listProjects))
	m.HandleFunc("POST "+Prefix+"/projects", call(http.StatusCreated, a.createProject))
	m.HandleFunc("GET "+Prefix+"/projects/{name}", call(200, a.getProject))
	m.HandleFunc("PUT "+Prefix+"/projects/{name}", call(200, a.putProject))
	m.HandleFunc("DELETE "+Prefix+"/projects/{name}", call(200, func(r *http.Request, _ none) (map[string]string, error) {
		return map[string]string{"deleted": r.PathValue("name")}, d.Projects.Delete(r.PathValue("name"))
	}))

	m.HandleFunc("GET "+Prefix+"/projects/{name}/gate", call(200, func(r *http.Request, _ none) (webapi.GateInfo, error) {
		return d.Review.Info(r.Context(), r.PathValue("name"))
	}))
	m.HandleFunc("GET "+Prefix+"/projects/{name}/gate/log", call(200, func(r *http.Request, _ none) ([]gateapi.Commit, error) {
		limit, err := queryInt(r, "limit", 0, "50")
		if err != nil {
			return nil, err
		}
		return d.Review.Log(r.Context(), r.PathValue("name"), r.URL.Query().Get("branch"), limit)
	}))
	m.HandleFunc("POST "+Prefix+"/projects/{name}/gate/sync", call(200, func(r *http.Request, _ none) (gateapi.SyncResult, error) {
		return d.Review.Sync(r.Context(), r.PathValue("name"))
	}))
	// ?branch=B[&base=D]; ?head= is taken for ?branch=.
	m.HandleFunc("GET "+Prefix+"/projects/{name}/gate/diff", call(200, func(r *http.Request, _ none) (gateapi.Diff, error) {
		q := r.URL.Query()
		head := q.Get("branch")
		if head == "" {
			head = q.Get("head")
		}
		return d.Review.Diff(r.Context(), r.PathValue("name"), q.Get("base"), head)
	}))
	m.HandleFunc("POST "+Prefix+"/projects/{name}/gate/promote", call(200, func(r *http.Request, req webapi.PromoteRequest) (gateapi.PromoteResult, error) {
		return d.Review.Promote(r.Context(), r.PathValue("name"), req)
	}))

	m.HandleFunc("GET "+Prefix+"/tasks", call(200, func(r *http.Request, _ none) ([]webapi.Task, error) {
		ts, err := d.Tasks.List(r.URL.Query().Get("project"))
		out := make([]webapi.Task, len(ts))
		for i, t := range ts {
			out[i] = a.task(r, t)
		}
		return out, err
	}))
	m.HandleFunc("POST "+Prefix+"/tasks", call(http.StatusCreated, taskCall(a, func(r *http.Request, req webapi.RunRequest) (tasks.Record, error) {
		return d.Tasks.Run(r.Context(), req)
	})))
	m.HandleFunc("GET "+Prefix+"/tasks/{id}", call(200, func(r *http.Request, _ none) (webapi.Task, error) {
		t, err := d.Tasks.Get(r.PathValue("id"))
		if err != nil {
			return webapi.Task{}, err
		}
		w := a.task(r, t)
		w.ImageStale = d.Tasks.ImageStale(r.Context(), t)
		return w, nil
	}))
	m.HandleFunc("DELETE "+Prefix+"/tasks/{id}", call(200, func(r *http.Request, _ none) (map[string]string, error) {
		force, err := queryBool(r, "force")
		if err != nil {
			return nil, err
		}
		return map[string]string{"removed": r.PathValue("id")}, d.Tasks.Remove(r.Context(), r.PathValue("id"), force)
	}))
	m.HandleFunc("GET "+Prefix+"/tasks/{id}/logs", a.taskLogs)
	m.HandleFunc("GET "+Prefix+"/tasks/{id}/wait", call(200, taskCall(a, func(r *http.Request, _ none) (tasks.Record, error) {
		return d.Tasks.WaitEnded(r.Context(), r.PathValue("id"))
	})))
	m.HandleFunc("POST "+Prefix+"/tasks/{id}/stop", call(200, taskCall(a, func(r *http.Request, _ none) (tasks.Record, error) {
		return d.Tasks.Stop(r.Context(), r.PathValue("id"))
	})))
	m.HandleFunc("POST "+Prefix+"/tasks/{id}/restart", call(200, taskCall(a, func(r *http.Request, _ none) (tasks.Record, error) {
		return d.Tasks.Restart(r.Context(), r.PathValue("id"))
	})))
	m.HandleFunc("POST "+Prefix+"/tasks/{id}/followup", call(200, taskCall(a, func(r *http.Request, req webapi.FollowupRequest) (tasks.Record, error) {
		return d.Tasks.Followup(r.Context(), r.PathValue("id"), req)
	})))
	m.HandleFunc("GET "+Prefix+"/tasks/{id}/timeline", call(200, func(r *http.Request, _ none) ([]webapi.Entry, error) {
		es, err := d.Tasks.Timeline(r.PathValue("id"))
		out := make([]webapi.Entry, len(es))
		for i, e := range es {
			out[i] = e.Wire()
		}
		return out, err
	}))
	if d.Exec != nil {
		m.Handle("GET "+Prefix+"/tasks/{id}/attach", attach.Handler(d.Exec, a.attachTarget,
			attach.Options{Log: d.Log, Origin: a.originOK}))
	}
	m.HandleFunc("POST "+Prefix+"/tasks/{id}/web/ticket", a.webTicket)

	m.HandleFunc("GET "+Prefix+"/tasks/{id}/shield", call(200, func(r *http.Request, _ none) (shieldapi.Status, error) {
		return d.Egress.Status(r.Context(), r.PathValue("id"))
	}))
	m.HandleFunc("POST "+Prefix+"/tasks/{id}/shield/allow", call(200, func(r *http.Request, req webapi.AllowRequest) (shieldapi.Status, error) {
		return d.Egress.Allow(r.Context(), r.PathValue("id"), req)
	}))
	m.HandleFunc("POST "+Prefix+"/tasks/{id}/shield/deny", call(200, func(r *http.Request, req webapi.AllowRequest) (shieldapi.Status, error) {
		return d.Egress.Deny(r.Context(), r.PathValue("id"), req)
	}))
	m.HandleFunc("POST "+Prefix+"/tasks/{id}/shield/mode", call(200, func(r *http.Request, req webapi.ModeRequest) (shieldapi.Status, error) {
		return d.Egress.SetMode(r.Context(), r.PathValue("id"), req.Mode)
	}))
	m.HandleFunc("GET "+Prefix+"/tasks/{id}/shield/audit", a.shieldAudit)
	m.HandleFunc("POST "+Prefix+"/shield/panic", call(200, func(r *http.Request, _ none) (shieldapi.PanicResult, error) {
		return d.Egress.Panic(r.Context())
	}))
	m.HandleFunc("GET "+Prefix+"/shield/profiles", call(200, func(r *http.Request, _ none) ([]shieldapi.Profile, error) {
		return d.Egress.Profiles(r.Context())
	}))

	m.HandleFunc("GET "+Prefix+"/images", call(200, func(r *http.Request, _ none) ([]webapi.Image, error) {
		return d.Images.List(r.Context())
	}))
	// The body is a root filesystem tarball: ?name=REF.
	m.HandleFunc("POST "+Prefix+"/images", call(http.StatusCreated, func(r *http.Request, _ none) (webapi.Image, error) {
		return d.Images.Import(r.Context(), r.URL.Query().Get("name"), r.Body)
	}))

	a.buildRoutes(m)

	m.HandleFunc("GET "+Prefix+"/daemons", call(200, func(r *http.Request, _ none) ([]webapi.Daemon, error) {
		return d.Daemons.List(r.Context())
	}))
	m.HandleFunc("POST "+Prefix+"/daemons/{name}/{action}", call(200, func(r *http.Request, _ none) (map[string]string, error) {
		name, action := r.PathValue("name"), r.PathValue("action")
		return map[string]string{"daemon": name, "action": action}, d.Daemons.Act(r.Context(), name, action)
	}))
	m.HandleFunc("GET "+Prefix+"/daemons/{name}/log", a.daemonLog)

	a.overviewRoutes(m)
	m.HandleFunc("GET "+Prefix+"/events", a.events)
	m.HandleFunc("GET "+Prefix+"/web/url", a.webURL)
	a.secretRoutes(m)
	a.h = unixhttp.JSONErrors(m)
	return a
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.h.ServeHTTP(w, r) }

// ---- projects

// viaCookie reports a browser session: it is shown agent.env's names,
// never their values.
func viaCookie(r *http.Request) bool { return auth.From(r).Via == auth.ViaCookie }

func (a *API) shown(r *http.Request, p webapi.ProjectInfo) webapi.ProjectInfo {
	if viaCookie(r) {
		return projects.HideEnv(p)
	}
	return p
}

func (a *API) listProjects(r *http.Request, _ none) ([]webapi.ProjectInfo, error) {
	ps, err := a.d.Projects.List()
	for i := range ps {
		ps[i] = a.shown(r, ps[i])
	}
	return ps, err
}

func (a *API) getProject(r *http.Request, _ none) (webapi.ProjectInfo, error) {
	p, err := a.d.Projects.Get(r.PathValue("name"))
	return a.shown(r, p), err
}

func (a *API) createProject(r *http.Request, p webapi.Project) (webapi.ProjectInfo, error) {
	info, err := a.d.Projects.Create(r.Context(), p)
	return a.shown(r, info), err
}

func (a *API) putProject(r *http.Request, p webapi.Project) (webapi.ProjectInfo, error) {
	info, err := a.d.Projects.Save(r.PathValue("name"), p)
	return a.shown(r, info), err
}

// ---- tasks

// task is t as the caller sees it: with a running web task's UI address
// for the host the caller reached terok by (web.sock: the configured
// one).
func (a *API) task(r *http.Request, t tasks.Record) webapi.Task {
	w := t.Wire()
	if a.d.Addresses == nil || t.Mode != webapi.ModeWeb || t.Done() {
		return w
	}
	if port, ok := a.d.Tasks.HostPort(t.ID); ok {
		var req *http.Request
		if auth.From(r).Via != auth.ViaSocket {
			req = r
		}
		w.WebURL = a.d.Addresses.TaskURL(req, port)
	}
	return w
}

// taskCall adapts a call that yields a task record to one that answers
// the task as the caller sees it.
func taskCall[In any](a *API, fn func(r *http.Request, in In) (tasks.Record, error)) func(*http.Request, In) (webapi.Task, error) {
	return func(r *http.Request, in In) (webapi.Task, error) {
		t, err := fn(r, in)
		if err != nil {
			return webapi.Task{}, err
		}
		return a.task(r, t), nil
	}
}

// taskLogs answers the task's output as text: ?tail=N for the last N
// lines, ?follow=1 to go on until the task ends (or the caller or
// terok-web goes).
func (a *API) taskLogs(w http.ResponseWriter, r *http.Request) {
	tail, err := queryInt(r, "tail", -1, "100")
	if err == nil && tail < -1 {
		err = fail.BadRequest("tail=%d: give a number of lines, 0 or more", tail)
	}
	follow, ferr := queryBool(r, "follow")
	if err = errorsJoin(err, ferr); err != nil {
		writeErr(w, err)
		return
	}
	logs, err := a.d.Tasks.Logs(r.Context(), r.PathValue("id"), runner.LogOptions{Tail: tail, Follow: follow})
	if err != nil {
		writeErr(w, err)
		return
	}
	defer logs.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(flushing{w, http.NewResponseController(w)}, logs)
}

// errorsJoin is the first error that is not nil.
func errorsJoin(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// flushing sends each write to the client at once.
type flushing struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f flushing) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.rc.Flush()
	}
	return n, err
}

// attachTarget picks the running container of the task to attach to;
// ?cmd= runs that command (with sh -c) instead of a login shell.
func (a *API) attachTarget(w http.ResponseWriter, r *http.Request) (attach.Target, bool) {
	t, err := a.d.Tasks.Running(r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return attach.Target{}, false
	}
	tg := attach.Target{ContainerID: t.Container, WorkingDir: "/workspace"}
	if c := r.URL.Query().Get("cmd"); c != "" {
		tg.Cmd = []string{"sh", "-c", c}
	} else if t.Agent != "" && t.Mode == webapi.ModeInteractive && t.Command != "" {
		// An interactive agent task opens its agent in the terminal.
		tg.Cmd = []string{"sh", "-c", t.Command}
	}
	return tg, true
}

// webTicket mints a one-time pass to a running web task's UI and answers
// its address with the pass.
func (a *API) webTicket(w http.ResponseWriter, r *http.Request) {
	tk, err := a.ticket(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	unixhttp.WriteJSON(w, http.StatusOK, tk)
}

func (a *API) ticket(r *http.Request) (webapi.WebTicket, error) {
	t, err := a.d.Tasks.Get(r.PathValue("id"))
	if err != nil {
		return webapi.WebTicket{}, err
	}
	if a.d.Tickets == nil || a.d.Addresses == nil {
		return webapi.WebTicket{}, fail.Conflict("web mode needs terok-web's TCP listener (TEROK_WEB_LISTEN is off)")
	}
	if t.Mode != webapi.ModeWeb {
		return webapi.WebTicket{}, fail.Conflict("task %s is a %s task: only web tasks have a UI", t.ID, t.Mode)
	}
	url := a.task(r, t).WebURL
	if url == "" {
		return webapi.WebTicket{}, fail.Conflict("task %s is %s: its UI is open only while it runs", t.ID, t.State)
	}
	tk, exp, err := a.d.Tickets.Mint(t.ID, auth.From(r).Session)
	if err != nil {
		return webapi.WebTicket{}, err
	}
	return webapi.WebTicket{URL: url + "?" + webproxy.TicketParam + "=" + tk, Expires: exp.UTC()}, nil
}

// ---- shield

// shieldAudit streams the task's shield events as JSON lines; an error
// before the first event is answered as an error.
func (a *API) shieldAudit(w http.ResponseWriter, r *http.Request) {
	follow, err := queryBool(r, "follow")
	if err != nil {
		writeErr(w, err)
		return
	}
	started := false
	start := func() {
		if !started {
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.WriteHeader(http.StatusOK)
			started = true
		}
	}
	out := flushing{w, http.NewResponseController(w)}
	enc := json.NewEncoder(out)
	err = a.d.Egress.Audit(r.Context(), r.PathValue("id"), follow, func(ev shieldapi.Event) error {
		start()
		return enc.Encode(ev)
	})
	if err != nil && !started {
		writeErr(w, err)
		return
	}
	start()
}

// ---- daemons

// daemonLog answers the tail of a program's log as text (?bytes=N). Over
// TCP a log is never a way to a secret (web.sock's callers can read the
// log files anyway).
func (a *API) daemonLog(w http.ResponseWriter, r *http.Request) {
	n, err := queryInt(r, "bytes", 0, "16384")
	if err != nil {
		writeErr(w, err)
		return
	}
	s, err := a.d.Daemons.Log(r.Context(), r.PathValue("name"), n, auth.From(r).Via != auth.ViaSocket)
	if err != nil {
		writeErr(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = io.WriteString(w, s)
}

// ---- the browser's

// webURL answers the login URL, which holds the token: only to callers
// that have it already (web.sock, the bearer token), never to a browser
// session.
func (a *API) webURL(w http.ResponseWriter, r *http.Request) {
	if viaCookie(r) {
		writeErr(w, fail.Forbidden("the login URL holds the access token: it is only given to the bearer token or web.sock (terok web url)"))
		return
	}
	if a.d.LoginURL == "" {
		writeErr(w, fail.Conflict("terok-web has no TCP listener (TEROK_WEB_LISTEN is off)"))
		return
	}
	unixhttp.WriteJSON(w, http.StatusOK, map[string]string{"url": a.d.LoginURL})
}

// originOK checks a WebSocket's Origin: the request's own origin or one
// of Deps.Origins, scheme, host and port exactly.
func (a *API) originOK(r *http.Request) bool { return auth.SameOrigin(r, a.d.Origins...) }
