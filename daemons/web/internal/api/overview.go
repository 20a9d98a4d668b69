package api

import (
	"net/http"

	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// overviewRoutes: what needs the user (overview.Service); nothing
// without the service.
func (a *API) overviewRoutes(m *http.ServeMux) {
	if a.d.Overview == nil {
		return
	}
	m.HandleFunc("GET "+Prefix+"/overview", call(200, func(r *http.Request, _ none) (webapi.Overview, error) {
		return a.d.Overview.Overview(r.Context())
	}))
	m.HandleFunc("POST "+Prefix+"/overview/dismiss", call(200, func(r *http.Request, req webapi.DismissRequest) (map[string]string, error) {
		return map[string]string{"dismissed": req.Task}, a.d.Overview.Dismiss(req)
	}))
}
