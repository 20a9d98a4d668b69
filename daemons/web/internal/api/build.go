package api

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/images"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// buildRoutes are a project's image (status and build) and the agent
// recipes.
func (a *API) buildRoutes(m *http.ServeMux) {
	m.HandleFunc("GET "+Prefix+"/projects/{name}/image", call(200, func(r *http.Request, _ none) (webapi.ImageStatus, error) {
		t, err := a.d.Projects.Target(r.PathValue("name"))
		if err != nil {
			return webapi.ImageStatus{}, err
		}
		return a.d.Images.Status(r.Context(), t)
	}))
	m.HandleFunc("POST "+Prefix+"/projects/{name}/build", a.build)
	m.HandleFunc("GET "+Prefix+"/agents", call(200, func(r *http.Request, _ none) ([]webapi.AgentRecipe, error) {
		return a.agents()
	}))
}

// build builds a project's image (?mode=reuse|refresh-agents|full) and
// streams its progress as JSON lines (webapi.BuildEvent), the last one
// done (with the result) or error. What is wrong before the build starts
// (no such project, a bad mode, no build: section) is answered as an
// error. The build goes on when the caller leaves.
func (a *API) build(w http.ResponseWriter, r *http.Request) {
	mode, err := images.ParseMode(r.URL.Query().Get("mode"))
	if err != nil {
		writeErr(w, fail.BadRequest("%v", err))
		return
	}
	t, err := a.d.Projects.Target(r.PathValue("name"))
	if err == nil && !t.Built() {
		err = fail.BadRequest("project %s has no build: section, so there is nothing to build (its tasks run %s): add build.agents or build.snippet to its project.yml", t.Project, t.Base)
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	var mu sync.Mutex // the last line comes from this goroutine, events from the build's
	enc := json.NewEncoder(flushing{w, http.NewResponseController(w)})
	gone := false
	send := func(ev webapi.BuildEvent) {
		mu.Lock()
		defer mu.Unlock()
		if !gone && enc.Encode(ev) != nil {
			gone = true // the caller left; the build goes on
		}
	}
	res, err := a.d.Images.Build(r.Context(), t, mode, func(e images.Event) { send(e.Wire()) })
	if err != nil {
		send(webapi.BuildEvent{Kind: webapi.BuildError, Project: t.Project, Error: err.Error()})
		return
	}
	send(webapi.BuildEvent{Kind: webapi.BuildDone, Project: t.Project, Result: res.Wire()})
}

// agents lists the recipes with their source; one that does not load is
// listed with its error.
func (a *API) agents() ([]webapi.AgentRecipe, error) {
	es, err := a.d.Recipes.List()
	if err != nil {
		return nil, err
	}
	out := []webapi.AgentRecipe{}
	for _, e := range es {
		ar := webapi.AgentRecipe{Name: e.Name, Source: e.Source, Shadows: e.Shadows}
		if e.Err != nil {
			ar.Error = e.Err.Error()
		} else {
			ar.Description, ar.Package, ar.Version = e.Description, e.Package.NPM, e.Package.Version
			ar.Providers, ar.Egress = e.ProviderNames(), e.Hosts()
		}
		out = append(out, ar)
	}
	return out, nil
}
